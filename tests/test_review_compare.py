"""Comparing 2 to 4 traces: who may compare what (404 otherwise, with nothing said
about which turn), the page's facts, the siblings link and the list's checkboxes."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from conversations.models import Turn
from tests.review_data import client_for, trace

pytestmark = pytest.mark.django_db


def regenerate(answer: Turn, model: str, content: str, reasoning: str = "again") -> Turn:
    """Another answer to the same user turn (a sibling)."""
    return Turn.objects.create(
        conversation=answer.conversation,
        index=Turn.objects.filter(conversation=answer.conversation).count(),
        parent=answer.parent,
        role=Turn.Role.ASSISTANT,
        content=content,
        reasoning_content=reasoning,
        status=Turn.Status.COMPLETED,
        model=model,
        timings={"reasoning_duration": 2500},
        usage={"completion_tokens": 40, "reasoning_tokens": 30, "total_tokens": 60},
    )


def compared(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'data-compare="([0-9a-f-]{36})"', response.content.decode())


def test_compares_two_turns_side_by_side(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner, reasoning="<b>why</b> " * 3, answer="Answer **one**")
    second = regenerate(first, "fake/fake-v4", "Answer two", reasoning="short")
    response = client_for(team.owner).get("/review/compare/", {"turns": f"{first.id},{second.id}"})
    assert response.status_code == 200
    assert compared(response) == [str(first.id), str(second.id)]
    body = response.content.decode()
    assert "fake/fake-r1" in body and "fake/fake-v4" in body
    assert "&lt;b&gt;why&lt;/b&gt;" in body and "<b>why" not in body  # escaped
    assert f"{len(first.reasoning_content)} characters" in body
    assert "2.5 s" in body and "4.2 s" in body
    assert 'data-part="reasoning"' in body and 'data-part="content"' in body


def test_the_lists_checkboxes_send_repeated_turns(team):  # type: ignore[no-untyped-def]
    a, b, c = (trace(team.owner, question=f"q{i}") for i in range(3))
    client = client_for(team.owner)
    page = client.get("/review/").content.decode()
    assert 'action="/review/compare/"' in page and 'name="turns"' in page
    assert "Compare selected" in page
    response = client.get("/review/compare/", {"turns": [str(c.id), str(a.id), str(b.id)]})
    assert response.status_code == 200
    assert compared(response) == [str(c.id), str(a.id), str(b.id)]


@pytest.mark.parametrize("who", ["reviewer", "root"])
def test_a_reviewer_and_a_superuser_may_compare(team, who):  # type: ignore[no-untyped-def]
    a, b = trace(team.owner), trace(team.member)
    response = client_for(getattr(team, who)).get("/review/compare/", {"turns": f"{a.id},{b.id}"})
    assert response.status_code == 200 and len(compared(response)) == 2


@pytest.mark.parametrize("who", ["other_reviewer", "outsider", "member"])
def test_a_turn_the_person_may_not_see_is_a_404(team, who):  # type: ignore[no-untyped-def]
    person = getattr(team, who)
    mine = trace(person)
    theirs = trace(team.owner, answer="Owner-only answer", model="fake/private-model")
    response = client_for(person).get("/review/compare/", {"turns": f"{mine.id},{theirs.id}"})
    assert response.status_code == 404
    assert compared(response) == []  # the ids only echo back in the language form's `next`
    body = response.content.decode()
    assert "Owner-only answer" not in body and "fake/private-model" not in body


def test_bad_selections_are_404(team):  # type: ignore[no-untyped-def]
    turns = [trace(team.owner, question=f"q{i}") for i in range(5)]
    ids = [str(t.id) for t in turns]
    client = client_for(team.owner)
    user_turn = turns[0].parent_id
    for value in [
        "",
        ids[0],  # one
        f"{ids[0]},{ids[0]}",  # one, twice
        ",".join(ids),  # five
        f"{ids[0]},not-a-uuid",
        f"{ids[0]},00000000-0000-0000-0000-000000000000",
        f"{ids[0]},{user_turn}",  # not an assistant turn
    ]:
        assert client.get("/review/compare/", {"turns": value}).status_code == 404, value
    assert client.get("/review/compare/").status_code == 404
    assert client.get("/review/compare/", {"turns": ",".join(ids[:4])}).status_code == 200


def test_anonymous_is_sent_to_sign_in(team):  # type: ignore[no-untyped-def]
    a, b = trace(team.owner), trace(team.owner)
    response = Client().get("/review/compare/", {"turns": f"{a.id},{b.id}"})
    assert response.status_code == 302


def siblings_link(client: Client, turn: Turn) -> list[str] | None:
    body = client.get(f"/review/{turn.id}/").content.decode()
    found = re.search(r'<a href="([^"]+)"[^>]*data-siblings>', body)
    if not found:
        return None
    url = found.group(1).replace("&amp;", "&")
    assert urlsplit(url).path == "/review/compare/"
    return parse_qs(urlsplit(url).query)["turns"][0].split(",")


def test_trace_page_links_its_siblings(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner)
    client = client_for(team.owner)
    assert siblings_link(client, first) is None  # an only answer
    second = regenerate(first, "fake/fake-v4", "Two")
    third = regenerate(first, "fake/fake-r1", "Three")
    assert siblings_link(client, second) == [str(second.id), str(first.id), str(third.id)]
    # The link works, and a reviewer of the team gets it too.
    reviewer = client_for(team.reviewer)
    ids = siblings_link(reviewer, first)
    assert ids == [str(first.id), str(second.id), str(third.id)]
    response = reviewer.get("/review/compare/", {"turns": ",".join(ids)})
    assert response.status_code == 200 and len(compared(response)) == 3


def test_siblings_link_takes_at_most_four(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner)
    for i in range(5):
        regenerate(first, "fake/fake-v4", f"Answer {i}")
    ids = siblings_link(client_for(team.owner), first)
    assert ids is not None and len(ids) == 4 and ids[0] == str(first.id)


def test_answers_to_another_message_are_not_siblings(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner)
    follow_up = Turn.objects.create(
        conversation=first.conversation,
        index=2,
        parent=first,
        role=Turn.Role.USER,
        content="and then?",
        status=Turn.Status.COMPLETED,
    )
    Turn.objects.create(
        conversation=first.conversation,
        index=3,
        parent=follow_up,
        role=Turn.Role.ASSISTANT,
        content="Then this.",
        status=Turn.Status.COMPLETED,
        model="fake/fake-r1",
    )
    assert siblings_link(client_for(team.owner), first) is None
