"""Trace review: who sees what (list, page, export, writes), the filters and search,
keyset pages, judging and redaction. Runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from conversations.models import Turn
from conversations.review import filters as review_filters
from conversations.review.models import Redaction, Review
from conversations.review.visibility import visible_turns
from tests.review_data import client_for, plan_among_fillers, trace

pytestmark = pytest.mark.django_db


def listed(client: Client, **params) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get("/review/", params)
    assert response.status_code == 200, response.content[:500]
    return re.findall(r'data-trace="([0-9a-f-]{36})"', response.content.decode())


def exported(client: Client, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get("/review/export.jsonl", params)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return [json.loads(line) for line in body.splitlines()]


# --- who sees what ------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("owner", True),
        ("reviewer", True),
        ("root", True),
        ("other_reviewer", False),
        ("member", False),
        ("outsider", False),
    ],
)
def test_visibility_is_the_same_on_every_surface(team, who, sees):  # type: ignore[no-untyped-def]
    turn = trace(team.owner)
    client = client_for(getattr(team, who))
    status = 200 if sees else 404
    assert client.get(f"/review/{turn.id}/").status_code == status
    assert (str(turn.id) in listed(client)) is sees
    assert (str(turn.id) in listed(client, q="Rayleigh")) is sees
    assert (str(turn.id) in [r["turn"] for r in exported(client)]) is sees
    # Writes are refused the same way, and change nothing.
    rate = client.post(f"/review/{turn.id}/", {"rating": "bad", "note": "x"})
    assert rate.status_code == (302 if sees else 404)
    asked = {"part": "reasoning", "passage": "Rayleigh"}
    assert client.post(f"/review/{turn.id}/redact/", asked).status_code == (200 if sees else 404)
    redact = client.post(f"/review/{turn.id}/redact/", {**asked, "confirm": "1"})
    assert redact.status_code == (302 if sees else 404)
    turn.refresh_from_db()
    assert ("Rayleigh" in turn.reasoning_content) is not sees
    assert Review.objects.filter(turn=turn).exists() is sees


def test_anonymous_is_sent_to_sign_in_and_user_turns_are_not_traces(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner)
    assert Client().get("/review/").status_code == 302
    assert Client().get("/review/export.jsonl").status_code == 302
    assert client_for(team.owner).get(f"/review/{turn.parent_id}/").status_code == 404


def test_a_reviewer_removed_from_the_team_loses_its_traces(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner)
    assert visible_turns(team.reviewer).filter(pk=turn.pk).exists()
    team.red.reviewers.remove(team.reviewer)
    assert not visible_turns(team.reviewer).filter(pk=turn.pk).exists()
    # Own turns stay visible.
    own = trace(team.reviewer)
    assert list(visible_turns(team.reviewer)) == [own]


def test_filters_never_widen_what_a_person_sees(team):  # type: ignore[no-untyped-def]
    trace(team.other_reviewer)
    client = client_for(team.member)
    assert listed(client, user="olga") == []
    assert listed(client, team="Blue") == []
    assert exported(client, user="olga") == []


# --- filters ------------------------------------------------------------------


def test_each_filter(team):  # type: ignore[no-untyped-def]
    now = timezone.now()
    a = trace(team.owner, model="fake/fake-r1", created=now - timedelta(days=10))
    b = trace(
        team.reviewer,
        model="other/big",
        status=Turn.Status.FAILED,
        reasoning_tokens=5000,
        thinking_ms=60_000,
    )
    c = trace(team.other_reviewer, model="fake/fake-v4", reasoning_tokens=10, thinking_ms=500)
    Review.objects.create(turn=a, reviewer=team.reviewer, rating="good").tags.create(name="math")
    Review.objects.create(turn=b, reviewer=team.reviewer, rating="bad")
    client = client_for(team.root)
    ids = lambda **p: set(listed(client, **p))  # noqa: E731
    a, b, c = str(a.id), str(b.id), str(c.id)
    assert ids() == {a, b, c}
    assert ids(model="fake/fake-r1") == {a}
    assert ids(provider="fake") == {a, c}
    assert ids(user="rita") == {b}
    assert ids(team="Red") == {a, b}
    assert ids(team="Blue") == {c}
    assert ids(status="failed") == {b}
    assert ids(rating="good") == {a}
    assert ids(rating="bad") == {b}
    assert ids(rating="none") == {c}
    assert ids(tag="math") == {a}
    assert ids(tag="nothing") == set()
    today = now.date().isoformat()
    assert ids(since=today) == {b, c}
    assert ids(until=(now - timedelta(days=5)).date().isoformat()) == {a}
    assert ids(since=(now - timedelta(days=10)).date().isoformat(), until=today) == {a, b, c}
    assert ids(min_reasoning="1000") == {b}
    assert ids(max_reasoning="50") == {c}
    assert ids(min_thinking="30") == {b}
    assert ids(max_thinking="1") == {c}
    assert ids(min_thinking="1", max_thinking="10", model="fake/fake-r1") == {a}


def test_bad_parameters_are_a_400_with_a_message(team):  # type: ignore[no-untyped-def]
    client = client_for(team.owner)
    for params in (
        {"since": "yesterday"},
        {"rating": "meh"},
        {"min_reasoning": "x"},
        {"after": "!!"},
    ):
        response = client.get("/review/", params)
        assert response.status_code == 400
        assert b'role="alert"' in response.content
    assert client.get("/review/export.jsonl", {"until": "soon"}).status_code == 400


def test_full_text_search_over_reasoning_and_answer(team):  # type: ignore[no-untyped-def]
    english = trace(
        team.owner, reasoning="The integral diverges near zero.", answer="It has no value."
    )
    chinese = trace(team.owner, reasoning="我们先计算这个积分的上界。", answer="答案是三十七。")
    mixed = trace(team.owner, reasoning="Use Python 的 asyncio here.", answer="Done")
    client = client_for(team.owner)
    ids = lambda q: set(listed(client, q=q))  # noqa: E731
    assert ids("integral") == {str(english.id)}
    assert ids("INTEGRAL value") == {str(english.id)}  # every word, any field, any case
    assert ids("integral nothing") == set()
    assert ids("积分") == {str(chinese.id)}  # a substring of an unspaced Chinese run
    assert ids("三十七") == {str(chinese.id)}
    assert ids("asyncio") == {str(mixed.id)}
    assert ids("zebra") == set()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index is PostgreSQL's")
def test_postgresql_search_uses_the_gin_index(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner)
    turns = review_filters.search(visible_turns(team.root), "rayleigh")
    plan = plan_among_fillers(first, turns, "filler answer", "filler thought")
    assert "turn_search_words" in plan, plan
    assert list(turns) == [first]


def test_keyset_pages_hold_every_row_once_and_keep_the_filters(team, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(review_filters, "PAGE_SIZE", 3)
    same = timezone.now() - timedelta(hours=1)
    wanted = set()
    for i in range(8):
        # Several share a timestamp: the id breaks the tie.
        turn = trace(team.owner, created=same if i % 2 else same - timedelta(minutes=i))
        wanted.add(str(turn.id))
    for _ in range(3):
        trace(team.owner, status=Turn.Status.STOPPED)
    client = client_for(team.owner)
    seen: list[str] = []
    url = "/review/?status=completed"
    pages = 0
    while url:
        response = client.get(url)
        html = response.content.decode()
        seen += re.findall(r'data-trace="([0-9a-f-]{36})"', html)
        pages += 1
        found = re.search(r'href="(\?[^"]*)" rel="next"', html)
        url = "/review/" + found.group(1).replace("&amp;", "&") if found else ""
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["status"] == ["completed"] and query["after"]
    assert len(seen) == len(set(seen)) == 8
    assert set(seen) == wanted
    assert pages == 3


# --- judging and redaction -------------------------------------------------------


def test_rate_tag_and_note_then_change_them(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner)
    client = client_for(team.reviewer)
    response = client.post(
        f"/review/{turn.id}/",
        {"rating": "good", "score": "4", "tags": "Math, loops , math", "note": "Clean."},
    )
    assert response.status_code == 302 and response["Location"].endswith(
        f"/review/{turn.id}/#review"
    )
    review = Review.objects.get(turn=turn, reviewer=team.reviewer)
    assert (review.rating, review.score, review.note) == ("good", 4, "Clean.")
    assert [t.name for t in review.tags.all()] == ["loops", "math"]
    client.post(f"/review/{turn.id}/", {"rating": "bad", "score": "", "tags": "loops", "note": ""})
    review = Review.objects.get(turn=turn, reviewer=team.reviewer)
    assert (review.rating, review.score, [t.name for t in review.tags.all()]) == (
        "bad",
        None,
        ["loops"],
    )
    # The owner's own review is a second voice, not an overwrite.
    client_for(team.owner).post(f"/review/{turn.id}/", {"rating": "good", "score": "5"})
    assert Review.objects.filter(turn=turn).count() == 2
    page = client.get(f"/review/{turn.id}/").content.decode()
    assert "rita" in page and "alice" in page
    row = client.get("/review/").content.decode()
    assert "1 good" in row and "1 bad" in row and "loops" in row
    assert client.post(f"/review/{turn.id}/", {"score": "9"}).status_code == 400


def test_redaction_removes_the_text_from_the_database(team):  # type: ignore[no-untyped-def]
    secret = "sk-live-SECRET-1234"
    turn = trace(
        team.owner,
        reasoning=f"The key {secret} was pasted.\nAgain: {secret}.",
        answer=f"Do not share {secret}.",
    )
    client = client_for(team.reviewer)
    response = client.post(
        f"/review/{turn.id}/redact/",
        {"part": "reasoning", "passage": secret, "confirm": "1"},
        follow=True,
    )
    assert "Redacted 38 characters." in response.content.decode()
    turn.refresh_from_db()
    assert turn.reasoning_content == "The key [redacted] was pasted.\nAgain: [redacted]."
    assert secret in turn.content  # the other part is untouched until redacted too
    client.post(
        f"/review/{turn.id}/redact/", {"part": "content", "passage": secret, "confirm": "1"}
    )
    turn.refresh_from_db()
    assert turn.content == "Do not share [redacted]."
    # Nothing keeps the original: not the turn, not the record.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reasoning_content, content FROM conversations_turn")
        assert secret not in json.dumps(cursor.fetchall())
    records = list(
        Redaction.objects.filter(turn=turn).values("by__username", "part", "chars", "occurrences")
    )
    assert records == [
        {"by__username": "rita", "part": "reasoning", "chars": 38, "occurrences": 2},
        {"by__username": "rita", "part": "content", "chars": 19, "occurrences": 1},
    ]
    assert secret not in json.dumps([list(r.values()) for r in records])


def test_redaction_matches_exactly_and_refuses_a_running_turn(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, reasoning="line one\nline two", status=Turn.Status.STREAMING)
    client = client_for(team.owner)
    page = client.post(
        f"/review/{turn.id}/redact/", {"part": "reasoning", "passage": "line one"}, follow=True
    )
    assert "still running" in page.content.decode()
    Turn.objects.filter(pk=turn.pk).update(status=Turn.Status.COMPLETED)
    page = client.post(
        f"/review/{turn.id}/redact/", {"part": "reasoning", "passage": "LINE"}, follow=True
    )
    assert "not in the text" in page.content.decode()
    # A textarea sends CRLF; the stored text has LF.
    client.post(
        f"/review/{turn.id}/redact/",
        {"part": "reasoning", "passage": "one\r\nline", "confirm": "1"},
    )
    turn.refresh_from_db()
    assert turn.reasoning_content == "line [redacted] two"
    assert Redaction.objects.filter(turn=turn).count() == 1


def test_trace_page_shows_the_context_and_keeps_reasoning_out_of_it(team):  # type: ignore[no-untyped-def]
    first = trace(
        team.owner, question="First question", reasoning="secret thought one", answer="First answer"
    )
    follow = Turn.objects.create(
        conversation=first.conversation,
        index=2,
        parent=first,
        role=Turn.Role.USER,
        content="Second question",
        status=Turn.Status.COMPLETED,
    )
    second = Turn.objects.create(
        conversation=first.conversation,
        index=3,
        parent=follow,
        role=Turn.Role.ASSISTANT,
        content="Second answer",
        reasoning_content="thought two",
        status=Turn.Status.COMPLETED,
        model="fake/fake-r1",
        usage={"completion_tokens": 30, "reasoning_tokens": 10},
        timings={"reasoning_duration": 1500, "total": 2500},
        error={"code": "cut", "message": "The stream was cut.", "detail": "peer reset"},
    )
    html = client_for(team.owner).get(f"/review/{second.id}/").content.decode()
    sent = html.split('id="sent-title"')[1].split('class="side-by-side"')[0]
    assert re.findall(r'data-sent-role="(\w+)"', sent) == ["user", "assistant", "user"]
    assert "First question" in sent and "First answer" in sent and "Second question" in sent
    assert "secret thought one" not in sent and "thought two" not in sent
    assert "thought two" in html and "1.5 s" in html and "The stream was cut." in html
    assert "peer reset" not in html  # the technical detail is for staff
    assert "peer reset" in client_for(team.root).get(f"/review/{second.id}/").content.decode()
    assert "Content-Security-Policy" in client_for(team.owner).get(f"/review/{second.id}/").headers
