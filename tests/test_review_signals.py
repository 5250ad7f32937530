"""Reasoning-aware review signals: the pure function on crafted texts, stored once
when a turn ends (over the websocket with the fake upstream, and when an expired turn
is settled), shown in the list and filtered by `signal=`, keyset pages included."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from conversations import actions, plans
from conversations.models import Turn
from conversations.review import filters as review_filters
from conversations.review import signals
from conversations.review.models import TraceSignals
from providers.fake_upstream import chat_stream
from tests.helpers import MODEL, run_turn
from tests.review_data import PASSWORD, trace

# --- the pure function --------------------------------------------------------


def test_ratio_lengths_and_thinking_time() -> None:
    found = signals.compute("x" * 300, "y" * 100, "completed", {"reasoning_duration": 4200})
    assert (found.reasoning_chars, found.answer_chars, found.ratio) == (300, 100, 3.0)
    assert found.thinking_ms == 4200
    assert not (found.empty_answer or found.cut or found.looping)


def test_no_answer_has_no_ratio_and_no_timings_no_thinking_time() -> None:
    found = signals.compute("short thought", "", "completed", None)
    assert found.ratio is None and found.thinking_ms is None
    assert not found.empty_answer  # short reasoning: not "long"


def test_empty_answer_after_long_reasoning() -> None:
    reasoning = " ".join(f"step{i} of the careful derivation" for i in range(400))
    assert len(reasoning) >= signals.LONG_REASONING
    assert signals.compute(reasoning, "  \n", "completed").empty_answer
    assert not signals.compute(reasoning, "42", "completed").empty_answer
    assert not signals.compute("x" * 1999, "", "completed").empty_answer


@pytest.mark.parametrize(
    ("status", "reasoning", "content", "finish_reason", "cut"),
    [
        ("stopped", "thinking…", "", None, True),
        ("incomplete", "thinking…", "", None, True),
        ("failed", "thinking…", "", None, True),
        ("completed", "thinking…", "", None, False),
        ("stopped", "thinking…", "partial answer", None, False),
        ("stopped", "", "", None, False),
        ("completed", "thinking…", "an answer", "length", True),
    ],
)
def test_cut(status: str, reasoning: str, content: str, finish_reason: str | None, cut: bool):  # type: ignore[no-untyped-def]
    assert signals.compute(reasoning, content, status, None, finish_reason).cut is cut


def test_looping_by_repeated_shingles() -> None:
    loop = "let me reconsider whether the second term cancels with the first one "
    found = signals.compute(loop * 30, "answer", "completed")
    assert found.looping and found.repeat_share > 0.8


def test_looping_by_a_sentence_three_times_in_chinese() -> None:
    reasoning = "首先计算积分。等等，我需要重新检查这个推导过程是否正确。" * 3 + "最后得到结果。"
    assert signals.compute(reasoning, "1", "completed").looping
    twice = "首先计算积分。等等，我需要重新检查这个推导过程是否正确。" * 2
    assert not signals.compute(twice, "1", "completed").looping


def test_varied_reasoning_is_not_looping() -> None:
    words = [f"w{i}" for i in range(2000)]
    found = signals.compute(" ".join(words), "answer", "completed")
    assert not found.looping and found.repeat_share == 0
    # Short repeated interjections are not a loop.
    assert not signals.compute("Wait. Hmm. Wait. Hmm. Wait. Hmm. Wait.", "a", "completed").looping


def test_repetition_is_linear_enough() -> None:
    import time

    text = ("alpha beta gamma delta " * 50_000) + "end"  # ~1.2 MB
    started = time.perf_counter()
    share, _ = signals.repetition(text)
    assert share > 0.9
    assert time.perf_counter() - started < 5


# --- stored when the turn ends ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_stored_when_a_turn_completes_over_the_socket(
    ws_for, alice, conversation, chat_provider, fake_upstream
):  # type: ignore[no-untyped-def]
    fake_upstream.enqueue(chat_stream(reasoning=["I think ", "hard."], content=["Done."]))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.completed"
    stored = await database_sync_to_async(TraceSignals.objects.get)(turn=turn)
    assert stored.reasoning_chars == len("I think hard.") and stored.answer_chars == 5
    assert stored.ratio == round(13 / 5, 2)
    assert stored.thinking_ms == (turn.timings or {}).get("reasoning_duration")
    assert not (stored.empty_answer or stored.cut or stored.looping)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_stored_when_the_upstream_fails_while_reasoning(
    ws_for, alice, conversation, chat_provider, fake_upstream
):  # type: ignore[no-untyped-def]
    long = ["Let me check the boundary case once more. " * 20] * 5  # looping, > 2,000 chars
    fake_upstream.enqueue(chat_stream(reasoning=long, content=["never"], cut_after=5))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert turn.status in ("failed", "incomplete"), turn.status
    assert turn.content == ""
    stored = await database_sync_to_async(TraceSignals.objects.get)(turn=turn)
    assert stored.cut and stored.empty_answer and stored.looping


@pytest.mark.django_db(transaction=True)
def test_stored_when_an_expired_turn_is_settled(alice, conversation, chat_provider):  # type: ignore[no-untyped-def]
    plan = plans.prepare_turn(conversation.id, alice, "one", MODEL, None)
    actions.store_turn(plan)
    Turn.objects.filter(id=plan.turn_id).update(lease_expires=timezone.now() - timedelta(1))
    [claimed] = actions.claim_stale_turns(conversation.id)
    actions.settle_claimed_turn(str(claimed.id), "half a thought", "", 7)
    stored = TraceSignals.objects.get(turn_id=plan.turn_id)
    assert stored.cut and stored.reasoning_chars == len("half a thought")


# --- the list: badges and the filter --------------------------------------------


def _ended(turn: Turn) -> Turn:
    signals.store_for(turn)
    return turn


def _listed(client: Client, **params: str) -> list[str]:
    response = client.get("/review/", params)
    assert response.status_code == 200, response.content[:500]
    return re.findall(r'data-trace="([0-9a-f-]{36})"', response.content.decode())


@pytest.mark.django_db
def test_list_shows_badges_and_filters_by_signal(team):  # type: ignore[no-untyped-def]
    now = timezone.now()
    plain = _ended(trace(team.owner, created=now))
    empty = _ended(trace(team.owner, reasoning="r" * 2500, answer="", created=now - timedelta(1)))
    cut = _ended(
        trace(team.owner, reasoning="half", answer="", status="stopped", created=now - timedelta(2))
    )
    loop = _ended(
        trace(
            team.owner, reasoning="I must verify this step again. " * 5, created=now - timedelta(3)
        )
    )
    unseen = _ended(trace(team.outsider, reasoning="r" * 2500, answer=""))
    old = trace(team.owner, reasoning="r" * 2500, answer="", created=now - timedelta(4))  # no row
    client = Client()
    assert client.login(username=team.owner.username, password=PASSWORD)
    body = client.get("/review/").content.decode()
    assert "Empty answer" in body and "Cut" in body and "Looping" in body
    assert "× reasoning" in body
    assert _listed(client, signal="empty_answer") == [str(empty.id)]
    assert _listed(client, signal="cut") == [str(cut.id)]
    assert _listed(client, signal="looping") == [str(loop.id)]
    assert str(plain.id) in _listed(client) and str(old.id) in _listed(client)
    assert str(unseen.id) not in _listed(client, signal="empty_answer")
    assert client.get("/review/", {"signal": "bogus"}).status_code == 400
    # Exported with the same filter.
    response = client.get("/review/export.jsonl", {"signal": "cut"})
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.count("\n") == 1 and str(cut.id) in body
    # Old turns get theirs from the command.
    call_command("compute_signals")
    assert _listed(client, signal="empty_answer") == [str(empty.id), str(old.id)]


@pytest.mark.django_db
def test_signal_filter_keeps_keyset_pages(team, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(review_filters, "PAGE_SIZE", 2)
    now = timezone.now()
    looping = [
        _ended(
            trace(
                team.owner,
                reasoning="Check the sum once more now. " * 4,
                created=now - timedelta(minutes=i),
            )
        )
        for i in range(5)
    ]
    _ended(trace(team.owner, created=now + timedelta(minutes=1)))  # not looping
    client = Client()
    assert client.login(username=team.owner.username, password=PASSWORD)
    seen: list[str] = []
    params = {"signal": "looping"}
    for _ in range(5):
        response = client.get("/review/", params)
        body = response.content.decode()
        seen += re.findall(r'data-trace="([0-9a-f-]{36})"', body)
        found = re.search(r'href="\?([^"]*after=[^"]*)" rel="next"', body)
        if not found:
            break
        query = found.group(1).replace("&amp;", "&")
        assert "signal=looping" in query
        params = dict(pair.split("=", 1) for pair in query.split("&"))
    assert seen == [str(t.id) for t in looping]
