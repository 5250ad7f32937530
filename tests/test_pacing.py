"""The coalescing window widens when the process is busy, and runners use it."""

from __future__ import annotations

import asyncio
import time

import pytest

from conversations.pacing import BUSY, SATURATED, Pacer, get_pacer
from providers.fake_upstream import chat_stream
from tests.helpers import collect_turn

MODEL = "fake/fake-r1"


def test_the_window_follows_the_load(settings):
    settings.CHAT_COALESCE_SECONDS = 0.03
    settings.CHAT_COALESCE_MAX_SECONDS = 0.07
    pacer = Pacer()
    assert pacer.window() == pytest.approx(0.03)
    pacer.cpu = BUSY
    assert pacer.window() == pytest.approx(0.03)
    pacer.cpu = (BUSY + SATURATED) / 2
    assert pacer.window() == pytest.approx(0.05)
    pacer.cpu = 1.5
    assert pacer.window() == pytest.approx(0.07)
    settings.CHAT_COALESCE_SECONDS = 0
    assert pacer.window() == 0  # off stays off


@pytest.mark.asyncio
async def test_the_probe_measures_a_busy_loop():
    pacer = Pacer()
    pacer.join()
    try:
        end = time.monotonic() + 0.6
        while time.monotonic() < end:  # the loop's thread burns its core
            sum(range(1000))
            await asyncio.sleep(0)
        assert pacer.cpu > BUSY
    finally:
        pacer.leave()
    await asyncio.sleep(0.15)
    assert pacer.cpu == 0  # the probe stopped with its last user


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_busy_process_sends_fewer_wider_frames(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    settings.CHAT_COALESCE_SECONDS = 0.001
    settings.CHAT_COALESCE_MAX_SECONDS = 0.5
    pacer = get_pacer()
    monkeypatch.setattr(Pacer, "sample", lambda self, cores: None)
    pacer.cpu = SATURATED  # as if the process were saturated
    tokens = [f"r{i} " for i in range(40)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens, content=["ok"], delay=0.02))
    ws = await ws_for(alice, conversation.id)
    await ws.connect()
    await ws.send_json_to({"type": "user_message", "content": "go", "model": MODEL})
    frames = await collect_turn(ws)
    await ws.disconnect()
    deltas = [f for f in frames if f["type"] == "reasoning.delta"]
    assert "".join(f["text"] for f in deltas) == "".join(tokens)
    # 0.8 s of tokens in 0.5 s windows (the first token goes at once): a few frames,
    # where a 1 ms window would send one per token.
    assert len(deltas) <= 5
