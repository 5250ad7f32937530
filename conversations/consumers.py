"""The conversation websocket: the protocol in docs/architecture.md (and DESIGN.md).

Thin: it validates frames, delegates to actions and the runner, and relays the
turn events it is handed (conversations.live.fanout). Each socket sends each (turn, seq)
at most once and in order; a gap in what it was handed is filled from the turn log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from accounts.oidc import sockets as oidc_sockets
from conversations import actions, plans
from conversations.errors import ClientError
from conversations.live import lifecycle
from conversations.live.db import run_db
from conversations.live.fanout import get_fanout
from conversations.live.runner import RUNNERS, start_runner
from conversations.live.turnlog import Event, get_turn_log
from conversations.models import Turn
from conversations.serializers import NotJsonText, loads_text

logger = logging.getLogger(__name__)


TERMINAL = frozenset({"turn.completed", "turn.failed", "turn.stopped"})


def socket_language(scope: dict[str, Any]) -> str:
    """The language of the socket's person, as LocaleMiddleware would pick it for a page
    (there is no URL prefix): the switcher's cookie, else Accept-Language, else the default."""
    wanted: list[str] = []
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
    if cookie:
        wanted.append(cookie)
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            header = value.decode("latin-1")
            wanted += [lang for lang, _q in parse_accept_lang_header(header) if lang != "*"]
    for code in wanted:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def too_large(detail: str) -> ClientError:
    # An oversized frame is an oversized message to the person: one sentence, one limit.
    return ClientError(
        "too_large", detail, values={"limit": f"{settings.CHAT_MAX_MESSAGE_CHARS:,}"}
    )


def parse_frame(text_data: str | None) -> dict[str, Any]:
    """A client frame as a JSON object with a string `type` (missing: ""), or the
    ClientError that answers it. Nothing a client sends may end the socket."""
    if text_data is None:
        raise ClientError("bad_frame", "Frames must be JSON text, not binary.")
    # Bound the work before parsing: the content limit plus room for JSON escapes.
    if len(text_data) > settings.CHAT_MAX_MESSAGE_CHARS * 6 + 4096:
        raise too_large("The frame is too large.")
    try:
        frame = loads_text(text_data)
    except NotJsonText as exc:
        raise ClientError("bad_frame", f"The frame is not JSON text: {exc}.") from None
    if not isinstance(frame, dict):
        raise ClientError("bad_frame", "Frames must be JSON objects.")
    kind = frame.setdefault("type", "")
    if not isinstance(kind, str):
        raise ClientError("bad_frame", "type must be a string.")
    return frame


def _open(user: Any, raw_id: str) -> tuple[Any, list[Turn]]:
    """The person's conversation (None: not theirs) and its dead turns, claimed to be
    settled: one database trip for the socket's connect, and one statement when no
    turn of it has died (nearly always)."""
    conversation = actions.conversation_for_user(user, raw_id, with_stale=True)
    if conversation is None:
        return None, []
    if not conversation.has_stale_turns:  # type: ignore[attr-defined]
        return conversation, []
    return conversation, actions.claim_stale_turns(conversation.id)


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    # No channel of its own on the layer: turn events come from conversations.live.fanout
    # (and from other processes over Redis pub/sub). An alias not configured means none.
    channel_layer_alias = "none: see conversations.live.fanout"
    conversation_id: str
    language: str = settings.LANGUAGE_CODE  # of `error` frames: decided at connect
    _watchdog: asyncio.Task[None] | None = None
    _session_watch: asyncio.Task[None] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first closes the database connections of the calling
        # thread, a trip to a worker thread and back before every frame is handled
        # (before a turn can start). This consumer's database work runs on run_db's
        # threads, which keep and check their own connection: there is nothing to close.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        raw_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        conversation: Any = None
        claimed: list[Turn] = []
        if user is not None and user.is_authenticated:
            conversation, claimed = await run_db(_open, user, raw_id)
        if conversation is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.conversation_id = str(conversation.id)
        self.language = socket_language(self.scope)
        # Highest seq sent on this socket, per followed turn; running ones are watched.
        self.sent: dict[str, int] = {}
        self.open_turns: dict[str, float] = {}  # turn id -> when we last heard of it
        self._send_lock = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None
        lifecycle.ensure_started()
        await lifecycle.settle(claimed)
        await get_fanout().join(self.conversation_id, self)
        await self.accept()
        # A company sign-in is re-checked with the IdP; its session ended, this closes.
        self._session_watch = oidc_sockets.watch(
            self.scope, lambda: self.close(code=oidc_sockets.SESSION_ENDED)
        )

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' own closes the database connections of a worker thread it goes to
        # and back for it, at every socket's close; as in `dispatch`, this consumer's
        # database work is on run_db's threads, which keep their own connection.
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._session_watch is not None:
            self._session_watch.cancel()
        if hasattr(self, "conversation_id"):
            await get_fanout().leave(self.conversation_id, self)

    # --- client frames -----------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_frame(text_data)
            handler = {
                "user_message": self.on_user_message,
                "regenerate": self.on_regenerate,
                "stop": self.on_stop,
                "resume": self.on_resume,
            }.get(frame["type"])
            if handler is None:
                raise ClientError("unknown_type", f"Unknown frame type {frame['type']!r}.")
            await handler(frame)
        except ClientError as exc:
            logger.debug("error frame %s: %s", exc.code, exc.detail)
            with translation.override(self.language):
                message = exc.message
            # Some errors say more than code and message (quota_exceeded: resets_at).
            extra = getattr(exc, "fields", {})
            await self.send_json({"type": "error", "code": exc.code, "message": message, **extra})

    async def on_user_message(self, frame: dict[str, Any]) -> None:
        content = frame.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ClientError("invalid_content", "content must be a non-empty string.")
        if len(content) > settings.CHAT_MAX_MESSAGE_CHARS:
            raise too_large(
                f"The message has {len(content):,} characters; "
                f"the limit is {settings.CHAT_MAX_MESSAGE_CHARS:,}."
            )
        parent = frame.get("parent", plans.ACTIVE_BRANCH)
        if parent is not None and parent is not plans.ACTIVE_BRANCH and not isinstance(parent, str):
            raise ClientError("bad_frame", "parent must be a turn id or null.")
        plan = await run_db(
            plans.prepare_turn,
            self.conversation_id,
            self.scope["user"],
            content,
            frame.get("model"),
            frame.get("options"),
            parent,
        )
        await self._start(plan)

    async def on_regenerate(self, frame: dict[str, Any]) -> None:
        plan = await run_db(
            plans.prepare_regenerate,
            self.conversation_id,
            self.scope["user"],
            self._turn_id(frame),
            frame.get("model"),
            frame.get("options"),
        )
        await self._start(plan)

    async def _start(self, plan: plans.TurnPlan) -> None:
        # Follow it from seq 0 so this socket gets turn.started even if another
        # socket's events race ahead.
        self.sent.setdefault(plan.turn_id, 0)
        plan = dataclasses.replace(plan, language=self.language)
        # The runner asks the upstream and stores the turn at the same time; it
        # belongs to the server, so closing this socket meanwhile changes nothing.
        runner = start_runner(plan)
        try:
            await asyncio.shield(runner.stored)
        except ClientError:
            self.sent.pop(plan.turn_id, None)
            raise

    async def on_stop(self, frame: dict[str, Any]) -> None:
        turn_id = self._turn_id(frame)
        running = await run_db(
            lambda: (
                Turn.objects.running()
                .filter(id=turn_id, conversation_id=self.conversation_id)
                .exists()
            )
        )
        if not running:
            raise ClientError("not_running", "That turn is not running.")
        runner = RUNNERS.get(turn_id)
        if runner is not None:  # here: no round trip
            runner.request_stop()
            return
        # The runner lives in another process, subscribed to this conversation.
        await get_fanout().stop_elsewhere(self.conversation_id, turn_id)

    async def on_resume(self, frame: dict[str, Any]) -> None:
        turn_id = self._turn_id(frame)
        after_seq = frame.get("after_seq", 0)
        if not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0:
            raise ClientError("bad_frame", "after_seq must be a non-negative integer.")
        exists = await run_db(
            lambda: Turn.objects.filter(
                id=turn_id, conversation_id=self.conversation_id, role=Turn.Role.ASSISTANT
            ).exists()
        )
        if not exists:
            raise ClientError("not_found", "No such turn in this conversation.")
        start = max(after_seq, self.sent.get(turn_id, after_seq))
        events = await get_turn_log().read(turn_id, start)
        if events is None:
            await self._send_snapshot(turn_id)
            return
        self.sent[turn_id] = start
        await self._send_events(turn_id, events)

    async def _send_snapshot(self, turn_id: str) -> None:
        turn = await run_db(
            lambda: Turn.objects.only(
                "reasoning_content", "content", "status", "seq", "references"
            ).get(id=turn_id)
        )
        self.sent[turn_id] = turn.seq
        if turn.status == Turn.Status.STREAMING:
            self.open_turns[turn_id] = time.monotonic()
        snapshot: dict[str, Any] = {
            "type": "turn.snapshot",
            "turn": turn_id,
            "seq": turn.seq,
            "status": turn.status,
            "reasoning_content": turn.reasoning_content,
            "content": turn.content,
        }
        if turn.references is not None:
            # A web-search bot's sources (stored when they arrived, and at the end).
            snapshot["references"] = turn.references
        await self.send_json(snapshot)

    @staticmethod
    def _turn_id(frame: dict[str, Any]) -> str:
        try:
            return str(uuid.UUID(str(frame.get("turn"))))
        except ValueError:
            raise ClientError("bad_frame", "turn must be a turn id.") from None

    # --- turn events (from conversations.live.fanout) ---------------------------------

    async def turn_events(self, message: dict[str, Any]) -> None:
        turn_id: str = message["turn"]
        events: list[Event] = message["events"]
        last = self.sent.get(turn_id)
        if last is None:
            if events[0]["seq"] != 1:
                return  # a turn this socket does not follow: the client resumes it if it wants
            last = self.sent[turn_id] = 0
        if events[0]["seq"] > last + 1:
            # A batch was lost on the way: the log has every event.
            missing = await get_turn_log().read(turn_id, last)
            if missing:
                await self._send_events(turn_id, missing)
        await self._send_events(turn_id, events)

    async def _send_events(self, turn_id: str, events: list[Event]) -> None:
        # The watchdog may send concurrently: one sender at a time keeps the order.
        async with self._send_lock:
            for event in events:
                if event["seq"] == self.sent.get(turn_id, 0) + 1:
                    self.sent[turn_id] = event["seq"]
                    try:
                        await self.send(text_data=json.dumps(event))
                    except Exception:
                        # The socket closed under us (daphne raises autobahn's
                        # Disconnected); disconnect() cleans up.
                        self.open_turns.clear()
                        return
                    if event["type"] in TERMINAL:
                        self.open_turns.pop(turn_id, None)
                    else:
                        self.open_turns[turn_id] = time.monotonic()
        if self.open_turns and self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Catch up from the log on turns that went quiet (a message lost between processes)."""
        quiet = settings.CHAT_WATCHDOG_SECONDS
        try:
            while self.open_turns:
                await asyncio.sleep(quiet / 2)
                now = time.monotonic()
                for turn_id, heard in list(self.open_turns.items()):
                    if now - heard < quiet:
                        continue
                    self.open_turns[turn_id] = now
                    missing = await get_turn_log().read(turn_id, self.sent.get(turn_id, 0))
                    if missing:
                        await self._send_events(turn_id, missing)
        finally:
            self._watchdog = None
