"""Helpers for socket tests: collect events until a turn ends."""

from __future__ import annotations

import asyncio
from typing import Any

TERMINAL = {"turn.completed", "turn.failed", "turn.stopped"}
MODEL = "fake/fake-r1"  # the `chat_provider` fixture's model


async def connect(ws_for: Any, user: Any, conversation_id: Any) -> Any:
    """A socket on the conversation, its handshake accepted."""
    ws = await ws_for(user, conversation_id)
    connected, _ = await ws.connect()
    assert connected
    return ws


async def run_turn(
    ws_for: Any,
    user: Any,
    conversation: Any,
    *,
    content: str = "hi",
    model: str = MODEL,
    within: float = 15.0,
    **fields: Any,
) -> Any:
    """One `user_message` (extra `fields` go in the frame) on a fresh socket: its
    frames until the turn ends, and the stored turn."""
    from channels.db import database_sync_to_async

    from conversations.models import Turn

    ws = await connect(ws_for, user, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": content, "model": model, **fields})
    frames = await collect_turn(ws, within=within)
    await ws.disconnect()
    turn = await database_sync_to_async(Turn.objects.get)(id=frames[0]["turn"])
    return frames, turn


async def collect_turn(ws: Any, within: float = 10.0) -> list[dict[str, Any]]:
    """Every frame until a terminal turn event (errors included, in order)."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while True:
            frame = await ws.receive_json_from(timeout=within)
            frames.append(frame)
            if frame.get("type") in TERMINAL:
                return frames


def texts(frames: list[dict[str, Any]]) -> tuple[str, str]:
    reasoning = "".join(f["text"] for f in frames if f["type"] == "reasoning.delta")
    content = "".join(f["text"] for f in frames if f["type"] == "content.delta")
    return reasoning, content


def assert_contiguous(frames: list[dict[str, Any]], start: int = 1) -> None:
    seqs = [f["seq"] for f in frames if "seq" in f and f.get("type") != "turn.snapshot"]
    assert seqs == list(range(start, start + len(seqs))), seqs


async def wait_for(predicate: Any, within: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns something truthy."""
    async with asyncio.timeout(within):
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(interval)
