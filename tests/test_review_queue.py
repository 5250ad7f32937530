"""The review queue: `/review/queue/?<list parameters>` opens the next trace to review,
a trace page with `queue=1` shows progress and moves, saving goes on; and it never
shows or counts a turn the person may not see. Also the trace page's references."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from conversations.models import Turn
from conversations.review import queue
from tests.review_data import client_for, trace

pytestmark = pytest.mark.django_db


def three(owner: Any) -> list[Turn]:
    """Newest first: the queue's default order."""
    now = timezone.now()
    return [trace(owner, created=now - timedelta(minutes=i)) for i in range(3)]


def opened(response: Any) -> str:
    """The turn id a queue redirect opens (checking that it stays in the queue)."""
    assert response.status_code == 302, response.content[:300]
    url = urlsplit(response["Location"])
    assert parse_qs(url.query)["queue"] == ["1"]
    found = re.fullmatch(r"/review/([0-9a-f-]{36})/", url.path)
    assert found
    return found.group(1)


def progress_of(html: str) -> str:
    found = re.search(r"data-queue-progress>([^<]*)<", html)
    assert found, html[:500]
    return found.group(1)


def test_queue_opens_the_first_unreviewed_and_saving_goes_on(team):  # type: ignore[no-untyped-def]
    newest, middle, oldest = three(team.owner)
    client = client_for(team.owner)
    client.post(f"/review/{newest.id}/", {"rating": "good"})  # reviewed before the queue
    first = opened(client.get("/review/queue/", {"status": "completed"}))
    assert first == str(middle.id)
    page = client.get(f"/review/{first}/", {"status": "completed", "queue": "1"})
    html = page.content.decode()
    assert progress_of(html) == "1 of 3 reviewed"
    assert f'href="/review/{newest.id}/?status=completed&amp;queue=1" rel="prev"' in html
    assert f'href="/review/{oldest.id}/?status=completed&amp;queue=1" rel="next"' in html
    assert "data-shortcuts-open" in html and 'id="shortcuts"' in html
    # Saving inside the queue goes on to the next trace to do, filters kept.
    saved = client.post(
        f"/review/{first}/?status=completed&queue=1", {"rating": "bad", "score": "2"}
    )
    assert saved.status_code == 302
    assert opened(client.get(saved["Location"])) == str(oldest.id)
    client.post(f"/review/{oldest.id}/?status=completed&queue=1", {"rating": "good"})
    done = client.get("/review/queue/", {"status": "completed"})
    assert done.status_code == 200
    assert progress_of(done.content.decode()) == "3 of 3 reviewed"
    assert b"Queue done" in done.content


def test_skip_wraps_round_and_a_review_is_per_person(team):  # type: ignore[no-untyped-def]
    newest, middle, oldest = three(team.owner)
    owner, reviewer = client_for(team.owner), client_for(team.reviewer)
    owner.post(f"/review/{middle.id}/", {"rating": "good"})
    # Skipping the last goes round to the first still to do.
    assert opened(owner.get("/review/queue/", {"from": str(oldest.id)})) == str(newest.id)
    assert opened(owner.get("/review/queue/", {"from": str(newest.id)})) == str(oldest.id)
    # The reviewer of the team has reviewed none of them: alice's review is hers.
    assert opened(reviewer.get("/review/queue/", {"user": "alice"})) == str(newest.id)


def test_a_queue_over_nothing_says_so(team):  # type: ignore[no-untyped-def]
    three(team.owner)
    response = client_for(team.owner).get("/review/queue/", {"model": "none/such"})
    assert response.status_code == 200
    assert b"Nothing to review" in response.content
    assert client_for(team.owner).get("/review/queue/", {"rating": "meh"}).status_code == 400


def test_progress_is_capped(team, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(queue, "COUNT_CAP", 2)
    turns = three(team.owner)
    html = client_for(team.owner).get(f"/review/{turns[0].id}/?queue=1").content.decode()
    assert progress_of(html) == "0 of 2+ reviewed"


def test_progress_counts_are_written_as_numbers_are() -> None:
    bar = {
        "progress": queue.Progress(1000, 1000, True),
        "sort": None,
        "skip_url": "/",
        "list_url": "/",
    }
    with translation.override("en"):
        html = render_to_string("review/queue_bar.html", {"queue": bar})
    assert progress_of(html) == "1,000 of 1,000+ reviewed"


def test_the_queue_follows_the_list_order(team):  # type: ignore[no-untyped-def]
    newest, middle, oldest = three(team.owner)
    client = client_for(team.owner)
    assert opened(client.get("/review/queue/", {"sort": "oldest"})) == str(oldest.id)
    html = client.get(f"/review/{oldest.id}/?sort=oldest&queue=1").content.decode()
    assert f'href="/review/{middle.id}/?sort=oldest&amp;queue=1" rel="next"' in html
    assert 'rel="prev"' not in html  # the first has no previous
    listed = client.get("/review/", {"sort": "oldest", "status": "completed"}).content.decode()
    assert 'href="/review/queue/?status=completed&amp;sort=oldest" data-queue-start' in listed


@pytest.mark.parametrize("who", ["other_reviewer", "member", "outsider"])
def test_no_queue_shows_or_counts_what_the_person_may_not_see(team, who):  # type: ignore[no-untyped-def]
    turns = three(team.owner)
    client = client_for(getattr(team, who))
    mine = trace(getattr(team, who))
    # Their queue over alice's traces is empty, and says nothing of how many exist.
    response = client.get("/review/queue/", {"user": "alice"})
    assert response.status_code == 200 and b"Nothing to review" in response.content
    # Their queue over everything holds their own trace only.
    assert opened(client.get("/review/queue/")) == str(mine.id)
    html = client.get(f"/review/{mine.id}/?queue=1").content.decode()
    assert progress_of(html) == "0 of 1 reviewed"
    assert str(turns[0].id) not in html
    # Starting after, or opening in a queue, a turn they may not see: 404.
    assert client.get("/review/queue/", {"from": str(turns[0].id)}).status_code == 404
    assert client.get("/review/queue/", {"from": "not-a-uuid"}).status_code == 404
    assert client.get(f"/review/{turns[0].id}/?queue=1").status_code == 404
    assert client.post(f"/review/{turns[0].id}/?queue=1", {"rating": "bad"}).status_code == 404


def test_the_queue_needs_a_sign_in(team):  # type: ignore[no-untyped-def]
    from django.test import Client

    response = Client().get("/review/queue/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- references ---------------------------------------------------------------


def test_trace_page_lists_references_linking_only_http(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner)
    turn.references = [
        {
            "title": "Weather <b>today</b>",
            "url": "https://weather.example/today",
            "site_name": "Weather Example",
            "summary": "Sunny.",
            "publish_time": "2026-01-15 09:30:00",
        },
        {"title": "Click me", "url": "javascript:alert(1)", "site_name": "evil.example"},
        {"title": None, "url": "//no-scheme.example/x", "publish_time": 1760000000},
        "not an object",
    ]
    turn.save(update_fields=["references"])
    html = client_for(team.owner).get(f"/review/{turn.id}/").content.decode()
    items = re.findall(r"<li data-reference>(.*?)</li>", html, re.S)
    assert len(items) == 3
    assert (
        '<a href="https://weather.example/today" target="_blank" rel="noopener noreferrer">'
        "Weather &lt;b&gt;today&lt;/b&gt;</a>"
    ) in items[0]
    assert "Weather Example · 2026-01-15 09:30:00" in items[0] and "Sunny." in items[0]
    assert "<a " not in items[1] and "javascript:alert(1)" in items[1]
    assert "<a " not in items[2] and "2025-10-09" in items[2]
    assert html.count("javascript:alert") == 1  # as text, never as an href


def test_compare_shows_each_turns_references(team):  # type: ignore[no-untyped-def]
    a, b = trace(team.owner), trace(team.owner)
    a.references = [{"title": "Source A", "url": "http://a.example/"}]
    a.save(update_fields=["references"])
    html = client_for(team.owner).get("/review/compare/", {"turns": f"{a.id},{b.id}"})
    assert html.content.decode().count("<li data-reference>") == 1


def test_redacting_inside_the_queue_stays_in_it(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, reasoning="The key sk-123 was pasted.")
    client = client_for(team.owner)
    page = client.get(f"/review/{turn.id}/", {"status": "completed", "queue": "1"})
    assert (
        f'action="/review/{turn.id}/redact/?status=completed&amp;queue=1"' in page.content.decode()
    )
    asked = {"part": "reasoning", "passage": "sk-123"}
    confirm = client.post(f"/review/{turn.id}/redact/?status=completed&queue=1", asked)
    html = confirm.content.decode()
    assert f'action="/review/{turn.id}/redact/?status=completed&amp;queue=1"' in html
    done = client.post(
        f"/review/{turn.id}/redact/?status=completed&queue=1", {**asked, "confirm": "1"}
    )
    assert done["Location"] == f"/review/{turn.id}/?status=completed&queue=1#redact"
    turn.refresh_from_db()
    assert turn.reasoning_content == "The key [redacted] was pasted."
