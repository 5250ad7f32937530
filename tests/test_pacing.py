"""The coalescing window widens when the process is busy, and runners use it."""

from __future__ import annotations

import asyncio
import time

import pytest

from conversations.live.pacing import BUSY, SATURATED, Pacer, get_pacer
from conversations.live.pump import READ_AHEAD, READ_HOLD_MAX, EventPump
from conversations.live.turnlog import Event
from providers.fake_upstream import chat_stream
from tests.helpers import run_turn


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
async def test_the_probe_measures_a_busy_loop(settings):
    """Measured as runners ask for the window, with no timer of its own."""
    settings.CHAT_COALESCE_SECONDS = 0.03
    pacer = Pacer()
    pacer.window()
    assert pacer.cpu == 0  # nobody runs a turn: nothing measured
    pacer.join()
    try:
        end = time.monotonic() + 0.6
        while time.monotonic() < end:  # the loop's thread burns its core
            sum(range(1000))
            pacer.window()  # a runner's delta
            await asyncio.sleep(0)
        assert pacer.cpu > BUSY
        busy = pacer.cpu
        await asyncio.sleep(0.3)  # idle, and nobody asks: nothing measured meanwhile
        assert pacer.cpu == busy
        pacer.window()
        assert pacer.cpu < busy  # the idle time counts at the next ask
    finally:
        pacer.leave()
    assert pacer.cpu == 0  # reset with its last user


async def _forty_tokens(ws_for, alice, conversation, fake_upstream) -> list[dict]:
    """A turn of 40 reasoning tokens 10 ms apart: its reasoning frames, checked whole."""
    tokens = [f"r{i} " for i in range(40)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens, content=["ok"], delay=0.01))
    frames, _turn = await run_turn(ws_for, alice, conversation, within=15)
    deltas = [f for f in frames if f["type"] == "reasoning.delta"]
    assert "".join(f["text"] for f in deltas) == "".join(tokens)
    return deltas


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
    frames, _turn = await run_turn(ws_for, alice, conversation)
    deltas = [f for f in frames if f["type"] == "reasoning.delta"]
    assert "".join(f["text"] for f in deltas) == "".join(tokens)
    # 0.8 s of tokens in 0.5 s windows (the first token goes at once): a few frames,
    # where a 1 ms window would send one per token.
    assert len(deltas) <= 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_slow_publish_gathers_what_arrives_meanwhile(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    """One flush at a time per turn: while a batch is on its way (a slow Redis), the
    next deltas wait in one batch, not in a queue of flush tasks."""
    from conversations.live.fanout import Fanout
    from conversations.live.runner import TurnRunner

    settings.CHAT_COALESCE_SECONDS = 0.001
    real = Fanout.hand_out
    in_flight = {"now": 0, "max": 0, "flushes": 0}
    real_flush = TurnRunner._flush

    async def counting_flush(self):
        in_flight["flushes"] += 1
        await real_flush(self)

    monkeypatch.setattr(TurnRunner, "_flush", counting_flush)

    async def slow(self, conversation_id, turn_id, events):
        # The sockets get the batch at once; Redis takes 0.2 s to have it.
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        written = await real(self, conversation_id, turn_id, events)

        async def later():
            try:
                await asyncio.sleep(0.2)
                await written
            finally:
                in_flight["now"] -= 1

        return asyncio.ensure_future(later())

    monkeypatch.setattr(Fanout, "hand_out", slow)
    deltas = await _forty_tokens(ws_for, alice, conversation, fake_upstream)
    assert in_flight["max"] == 1
    assert len(deltas) <= 6  # 0.4 s of tokens in batches of 0.2 s
    assert in_flight["flushes"] <= 10  # not one waiting task per token


class Pump(EventPump):
    def __init__(self) -> None:
        self.turn_id = self.conversation_id = "t"
        self.pacer = Pacer()
        self._init_pump()
        self._open.set()
        self.sent: list[Event] = []

    async def _hand_out(self, events: list[Event]) -> asyncio.Future[None]:
        self.sent += events
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.mark.asyncio
async def test_the_upstream_is_read_once_per_window(settings):
    """After a read, a fast provider's next bytes may wait unread until just before the
    window's flush. The first tokens are read as they come (the pace is not known
    yet), a slow provider's always, with coalescing off every packet; and no hold
    outlasts READ_HOLD_MAX (a first answer token may wait that long)."""
    settings.CHAT_COALESCE_SECONDS = 0.02
    settings.CHAT_COALESCE_MAX_SECONDS = 0.02
    pump = Pump()
    assert pump.read_hold() == 0
    pump._delta("reasoning", "a")  # the first: flushed at once, a window starts
    assert pump.read_hold() == 0
    for _ in range(3):  # the flush
        await asyncio.sleep(0)
    assert [e["text"] for e in pump.sent] == ["a"]
    pump._delta("reasoning", "b")  # fast: within the window, wait for its flush
    pump._delta("reasoning", "c")
    assert pump._flush_delayed
    assert 0 < pump.read_hold() <= 0.02 - READ_AHEAD
    pump._first_delta -= 1.0  # as if they had come half a second apart
    assert pump.read_hold() == 0
    pump._first_delta += 1.0
    settings.CHAT_COALESCE_SECONDS = 0
    assert pump.read_hold() == 0
    pump._flush_handle.cancel()
    settings.CHAT_COALESCE_SECONDS = settings.CHAT_COALESCE_MAX_SECONDS = 2.0
    wide = Pump()
    for text in "xyz":
        wide._delta("content", text)
    assert wide.read_hold() == READ_HOLD_MAX
    wide._flush_handle.cancel()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_turn_reads_its_upstream_held(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    """The runner gives its client the window's hold: fewer reads than tokens, every
    token in the frames."""
    from conversations.live.runner import TurnRunner

    settings.CHAT_COALESCE_SECONDS = 0.06
    holds: list[float] = []
    real = TurnRunner.read_hold

    def counted(self):
        holds.append(real(self))
        return holds[-1]

    monkeypatch.setattr(TurnRunner, "read_hold", counted)
    await _forty_tokens(ws_for, alice, conversation, fake_upstream)
    assert any(hold > 0 for hold in holds)
    # 0.4 s of tokens: the first few read one by one, then one or two reads a window,
    # where each token would be a read of its own.
    assert len(holds) < 40 * 3 / 4
