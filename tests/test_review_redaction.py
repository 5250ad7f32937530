"""Redaction in two steps (a confirmation that names every place, then the write),
of the reasoning, the answer, the person's message and the conversation title: the
database, the stored API request, the event log and the exports all lose it."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection

from conversations.live import turnlog
from conversations.models import Conversation, Turn
from conversations.review.models import Redaction
from tests.review_data import client_for, trace

pytestmark = pytest.mark.django_db

SECRET = "sk-live-SECRET-1234"


def redact_url(turn: Turn) -> str:
    return f"/review/{turn.id}/redact/"


def keep_log(turn: Turn, n: int) -> None:
    """`n` events of the turn's log, as a finished turn leaves them for a while."""
    events = [{"type": "reasoning.delta", "turn": str(turn.id), "seq": i + 1} for i in range(n)]
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for e in events:
            client.xadd(
                turnlog.RedisTurnLog.key(str(turn.id)), {"e": json.dumps(e)}, id=f"{e['seq']}-1"
            )
        client.close()
    else:
        log = turnlog.get_turn_log()
        assert isinstance(log, turnlog.MemoryTurnLog)
        log._logs[str(turn.id)] = events


def exported(client) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get("/review/export.jsonl")
    return [json.loads(x) for x in b"".join(response.streaming_content).decode().splitlines()]


def test_redaction_asks_first_naming_every_place(team, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, reasoning=f"The key {SECRET} was pasted.\nAgain: {SECRET}.")
    keep_log(turn, 3)
    client = client_for(team.reviewer)
    page = client.post(redact_url(turn), {"part": "reasoning", "passage": SECRET})
    assert page.status_code == 200  # a confirmation, not the write
    html = page.content.decode()
    assert "data-redact-confirm" in html and "csrfmiddlewaretoken" in html
    assert 'name="confirm" value="1"' in html
    assert "Reasoning of this trace" in html and "3 events" in html
    assert "2 occurrences, 38 characters" in html
    turn.refresh_from_db()
    assert SECRET in turn.reasoning_content and not Redaction.objects.exists()
    assert turnlog.kept(str(turn.id)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            redact_url(turn), {"part": "reasoning", "passage": SECRET, "confirm": "1"}
        )
    assert done.status_code == 302
    turn.refresh_from_db()
    assert turn.reasoning_content == "The key [redacted] was pasted.\nAgain: [redacted]."
    assert turnlog.kept(str(turn.id)) is None  # a late resume cannot replay it
    assert SECRET not in json.dumps(exported(client), ensure_ascii=False)


def test_redacting_the_persons_message_reaches_title_context_and_exports(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, question=f"My key is {SECRET}, why 401?")
    client = client_for(team.owner)
    html = client.post(redact_url(turn), {"part": "user", "passage": SECRET}).content.decode()
    assert "The person&#x27;s message" in html and "Conversation title" in html
    assert "2 occurrences" in html  # the message and the title named after it
    client.post(redact_url(turn), {"part": "user", "passage": SECRET, "confirm": "1"})
    turn.parent.refresh_from_db()
    assert turn.parent.content == "My key is [redacted], why 401?"
    assert Conversation.objects.get(pk=turn.conversation_id).title.startswith(
        "My key is [redacted]"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT content, reasoning_content FROM conversations_turn")
        turns = json.dumps(cursor.fetchall())
        cursor.execute("SELECT title FROM conversations_conversation")
        titles = json.dumps(cursor.fetchall())
    assert SECRET not in turns and SECRET not in titles
    line = exported(client)[0]
    assert line["messages"] == [{"role": "user", "content": "My key is [redacted], why 401?"}]
    page = client.get(f"/review/{turn.id}/").content.decode()
    assert SECRET not in page
    (record,) = Redaction.objects.values("part", "chars", "occurrences")
    assert record == {"part": "user", "chars": 2 * len(SECRET), "occurrences": 2}
    # The trace page lists it with the part's name.
    assert "of the Person&#x27;s message" in page


def test_redacting_the_persons_message_of_an_api_request(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, question=f"use {SECRET}")
    turn.request_messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"earlier: {SECRET}"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": f"use {SECRET}"},
    ]
    turn.save(update_fields=["request_messages"])
    client = client_for(team.reviewer)
    html = client.post(redact_url(turn), {"part": "user", "passage": SECRET}).content.decode()
    assert "Messages of the stored API request" in html
    client.post(redact_url(turn), {"part": "user", "passage": SECRET, "confirm": "1"})
    turn.refresh_from_db()
    assert [m["content"] for m in turn.request_messages] == [
        "Be brief.",
        "earlier: [redacted]",
        "ok",
        "use [redacted]",
    ]
    assert SECRET not in json.dumps(exported(client)[0]["messages"])


def test_redacting_the_title_alone(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, question="Plain question")
    Conversation.objects.filter(pk=turn.conversation_id).update(title="Project Nightingale")
    client = client_for(team.owner)
    html = client.post(
        redact_url(turn), {"part": "title", "passage": "Nightingale"}
    ).content.decode()
    assert "Conversation title" in html and "The person" not in html
    client.post(redact_url(turn), {"part": "title", "passage": "Nightingale", "confirm": "1"})
    assert Conversation.objects.get(pk=turn.conversation_id).title == "Project [redacted]"
    turn.parent.refresh_from_db()
    assert turn.parent.content == "Plain question"
    assert client.get("/api/conversations/").content.decode().count("[redacted]") == 1


def test_a_running_turn_still_takes_a_redaction_of_the_message(team):  # type: ignore[no-untyped-def]
    # Its runner writes the reasoning and the answer, never the message or the title.
    turn = trace(team.owner, question=f"key {SECRET}", status=Turn.Status.STREAMING)
    client = client_for(team.owner)
    refused = client.post(
        redact_url(turn), {"part": "reasoning", "passage": "Rayleigh"}, follow=True
    )
    assert "still running" in refused.content.decode()
    client.post(redact_url(turn), {"part": "user", "passage": SECRET, "confirm": "1"})
    turn.parent.refresh_from_db()
    assert turn.parent.content == "key [redacted]"


@pytest.mark.parametrize("part", ["reasoning", "content", "user", "title"])
@pytest.mark.parametrize(
    ("who", "sees"), [("reviewer", True), ("other_reviewer", False), ("member", False)]
)
def test_each_part_is_refused_to_whoever_may_not_see_the_trace(team, part, who, sees):  # type: ignore[no-untyped-def]
    turn = trace(
        team.owner,
        question="Why is the sky blue, Rayleigh?",
        answer="Rayleigh says blue.",
    )
    client = client_for(getattr(team, who))
    data = {"part": part, "passage": "Rayleigh"}
    assert client.post(redact_url(turn), data).status_code == (200 if sees else 404)
    done = client.post(redact_url(turn), {**data, "confirm": "1"})
    assert done.status_code == (302 if sees else 404)
    assert Redaction.objects.filter(turn=turn).exists() is sees
