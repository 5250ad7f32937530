"""Trace export (HTTP and export_traces) and the retention purge (purge_traces)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from conversations.models import Turn
from conversations.review.export import FIELDS
from conversations.review.models import Review
from tests.review_data import PASSWORD, trace

pytestmark = pytest.mark.django_db

DESIGN_FIELDS = {
    "turn", "conversation", "user", "model", "created", "status", "messages",
    "reasoning_content", "content", "usage", "timings", "error", "references",
    "rating", "tags", "notes",
}  # fmt: skip


def export(user, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    response = client.get("/review/export.jsonl", params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert body == "" or body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_export_fields_are_exactly_designs_and_round_trip(team):  # type: ignore[no-untyped-def]
    turn = trace(
        team.owner,
        question="Q 你好",
        error={"code": "cut", "message": "Cut.", "detail": "peer reset"},
    )
    review = Review.objects.create(
        turn=turn, reviewer=team.reviewer, rating="good", score=4, note="ok"
    )
    review.tags.create(name="math")
    Review.objects.create(turn=turn, reviewer=team.owner, rating="bad", score=2)
    [line] = export(team.reviewer)
    assert set(line) == DESIGN_FIELDS == set(FIELDS)
    assert line["turn"] == str(turn.id) and line["conversation"] == str(turn.conversation_id)
    assert (line["user"], line["model"], line["status"]) == ("alice", "fake/fake-r1", "completed")
    assert line["created"] == turn.created.isoformat()
    assert line["messages"] == [{"role": "user", "content": "Q 你好"}]
    assert line["reasoning_content"] == turn.reasoning_content and line["content"] == turn.content
    assert line["usage"] == turn.usage and line["timings"] == turn.timings
    assert line["error"] == {"code": "cut", "message": "Cut."}  # detail: staff only
    assert line["references"] is None
    assert line["rating"] == {"good": 1, "bad": 1, "score": 3.0}
    assert line["tags"] == ["math"]
    assert [
        (n["reviewer"], n["rating"], n["score"], n["tags"], n["note"]) for n in line["notes"]
    ] == [
        ("rita", "good", 4, ["math"], "ok"),
        ("alice", "bad", 2, [], ""),
    ]
    assert export(team.root)[0]["error"]["detail"] == "peer reset"


def test_export_holds_only_what_the_person_may_see_with_the_filters(team):  # type: ignore[no-untyped-def]
    mine = trace(team.owner, model="fake/a")
    trace(team.owner, model="fake/b")
    trace(team.other_reviewer, model="fake/a")
    assert {r["user"] for r in export(team.reviewer)} == {"alice"}
    assert [r["turn"] for r in export(team.reviewer, model="fake/a")] == [str(mine.id)]
    assert export(team.member) == []
    assert export(team.outsider) == []
    assert len(export(team.root)) == 3


def test_export_reads_in_chunks(team, monkeypatch, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    from conversations.review import export as review_export

    monkeypatch.setattr(review_export, "CHUNK", 4)
    now = timezone.now()
    made = {str(trace(team.owner, created=now - timedelta(minutes=i)).id) for i in range(10)}
    # 3 chunks + the empty one, each with its contexts and reviews: a bounded count.
    with django_assert_max_num_queries(14):
        out = command("export_traces", "--user", "alice")
    assert {json.loads(line)["turn"] for line in out.splitlines()} == made


def test_export_traces_filters_and_formats(team):  # type: ignore[no-untyped-def]
    old = trace(team.owner, model="fake/a", created=timezone.now() - timedelta(days=30))
    new = trace(team.reviewer, model="fake/b", answer="Answer in **bold**")
    other = trace(team.other_reviewer, model="fake/a")
    ids = lambda *a: [json.loads(x)["turn"] for x in command("export_traces", *a).splitlines()]  # noqa: E731
    assert set(ids()) == {str(old.id), str(new.id), str(other.id)}
    assert ids("--user", "alice") == [str(old.id)]
    assert set(ids("--team", "Red")) == {str(old.id), str(new.id)}
    assert set(ids("--model", "fake/a")) == {str(old.id), str(other.id)}
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert set(ids("--since", since)) == {str(new.id), str(other.id)}
    md = command("export_traces", "--user", "rita", "--format", "markdown")
    assert md.startswith("## fake/b · rita · ")
    assert "### Context sent upstream" in md and "**user**" in md and "Why is the sky blue?" in md
    assert "### Reasoning" in md and "Rayleigh" in md and "Answer in **bold**" in md
    for bad in (["--user", "nobody"], ["--team", "Nope"], ["--since", "June"]):
        with pytest.raises(CommandError):
            command("export_traces", *bad)


def test_purge_traces_follows_each_teams_retention(team):  # type: ignore[no-untyped-def]
    now = timezone.now()
    team.red.reasoning_retention_days = 7
    team.red.save()
    old = trace(team.owner, created=now - timedelta(days=8), reasoning="old thoughts")
    recent = trace(team.owner, created=now - timedelta(days=6))
    blue_old = trace(team.other_reviewer, created=now - timedelta(days=400))  # Blue keeps all
    outsider_old = trace(team.outsider, created=now - timedelta(days=400))
    running = trace(team.member, created=now - timedelta(days=9), status=Turn.Status.STREAMING)

    dry = command("purge_traces", "--dry-run")
    assert "Red (7 days): would erase the reasoning of 1 turns (12 characters)" in dry
    old.refresh_from_db()
    assert old.reasoning_content == "old thoughts"

    out = command("purge_traces")
    assert "Red (7 days): erased the reasoning of 1 turns (12 characters)" in out
    old.refresh_from_db()
    assert (old.reasoning_content, old.content) == ("", "Because blue light scatters more.")
    for kept in (recent, blue_old, outsider_old, running):
        kept.refresh_from_db()
        assert kept.reasoning_content
    assert "erased the reasoning of 0 turns" in command("purge_traces")  # safe to re-run
