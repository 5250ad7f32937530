"""Every wire format the clients read, against the fake upstream over real loopback HTTP."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Literal

import aiohttp
import httpx
import pytest
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings

from providers.clients import (
    AuthError,
    BadRequest,
    ChatCompletionsClient,
    ClientConfig,
    ConnectFailed,
    ContentDelta,
    DemoClient,
    Done,
    Event,
    Message,
    ProviderError,
    RateLimited,
    ReasoningDelta,
    ResponsesClient,
    Stalled,
    StreamCut,
    StreamRequest,
    UpstreamUnavailable,
    Usage,
    client_for,
    close_http_clients,
    get_http_client,
)
from providers.clients.base import BaseClient
from providers.clients.http import new_session
from providers.fake_upstream import (
    REPLAYED_CHAT,
    REPLAYED_RESPONSES,
    FakeUpstream,
    Script,
    chat_stream,
    error_response,
    responses_stream,
    sse,
    token_stream,
)

KEY = "sk-test-0123456789abcdef"
REQUEST = StreamRequest(model="fake-model", messages=[Message("user", "Hi")])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session(idle_timeout=5.0) as session:
        yield session


@pytest.fixture
async def plain_http() -> AsyncIterator[httpx.AsyncClient]:
    """For tests of the fake upstream itself: a client apart from the product's."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


def chat(fake: FakeUpstream, http: aiohttp.ClientSession, key: str = KEY) -> ChatCompletionsClient:
    return ChatCompletionsClient(ClientConfig(fake.base_url, key), http)


def responses(fake: FakeUpstream, http: aiohttp.ClientSession, key: str = KEY) -> ResponsesClient:
    return ResponsesClient(ClientConfig(fake.base_url, key), http)


async def collect(client: BaseClient, request: StreamRequest = REQUEST) -> list[Event]:
    return [event async for event in client.stream(request)]


async def collect_until_error(
    client: BaseClient, request: StreamRequest = REQUEST
) -> tuple[list[Event], ProviderError]:
    events: list[Event] = []
    with pytest.raises(ProviderError) as info:
        async for event in client.stream(request):
            events.append(event)
    return events, info.value


def texts(events: list[Event]) -> tuple[str, str]:
    assert all(e.text for e in events if isinstance(e, ReasoningDelta | ContentDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content


def ends(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, Usage | Done)]


# --- chat completions ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_chat_reasoning_fields(
    fake_upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    field: Literal["reasoning_content", "reasoning"],
) -> None:
    fake_upstream.enqueue(chat_stream(["Think", "ing."], ["Ans", "wer"], reasoning_field=field))
    events = await collect(chat(fake_upstream, http))
    assert events[:4] == [
        ReasoningDelta("Think"),
        ReasoningDelta("ing."),
        ContentDelta("Ans"),
        ContentDelta("wer"),
    ]
    assert ends(events) == [Usage(12, 4, 2, 16), Done("stop")]


async def test_chat_think_tags_inline_split_across_chunks(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(
        chat_stream(
            [],
            ["<thi", "nk>\nLet me", " think.</th", "ink>\n\n", "The answer", " is <think>."],
            reasoning_field="think",
        ),
        chat_stream(["A", "B"], ["C"], reasoning_field="think"),
    )
    events = await collect(chat(fake_upstream, http))
    assert texts(events) == ("\nLet me think.", "The answer is <think>.")
    assert isinstance(events[0], ReasoningDelta)
    assert texts(await collect(chat(fake_upstream, http))) == ("AB", "C")


@pytest.mark.parametrize("mode", ["last_chunk", "separate", "null_every_chunk"])
async def test_chat_usage_shapes(
    fake_upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    mode: Literal["last_chunk", "separate", "null_every_chunk"],
) -> None:
    usage = {
        "prompt_tokens": 7,
        "completion_tokens": 30,
        "total_tokens": 37,
        "completion_tokens_details": {"reasoning_tokens": 20},
    }
    fake_upstream.enqueue(chat_stream(usage=usage, usage_mode=mode))
    events = await collect(chat(fake_upstream, http))
    assert ends(events) == [Usage(7, 30, 20, 37), Done("stop")]


async def test_chat_usage_absent_or_with_top_level_reasoning_tokens(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(
        chat_stream(usage_mode="none"),
        chat_stream(usage={"prompt_tokens": 1, "completion_tokens": 2, "reasoning_tokens": 1}),
    )
    client = chat(fake_upstream, http)
    assert ends(await collect(client)) == [Done("stop")]
    assert ends(await collect(client)) == [Usage(1, 2, 1, None), Done("stop")]


@pytest.mark.parametrize("keepalive", [False, True])
@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("split_bytes", [False, True])
async def test_chat_framing_variants(
    fake_upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    keepalive: bool,
    crlf: bool,
    split_bytes: bool,
) -> None:
    fake_upstream.enqueue(
        chat_stream(
            ["让我想想", "……🤔"],
            ["答案是", " 42 🎉"],
            keepalive=keepalive,
            crlf=crlf,
            split_bytes=split_bytes,
        )
    )
    events = await collect(chat(fake_upstream, http))
    assert texts(events) == ("让我想想……🤔", "答案是 42 🎉")
    assert ends(events)[-1] == Done("stop")


async def test_split_bytes_really_splits_characters_across_reads(
    fake_upstream: FakeUpstream, plain_http: httpx.AsyncClient
) -> None:
    fake_upstream.enqueue(chat_stream(["想"], ["🎉"], split_bytes=True))
    url = fake_upstream.base_url + "/chat/completions"
    headers = {"Authorization": f"Bearer {KEY}"}
    async with plain_http.stream("POST", url, json={}, headers=headers) as response:
        assert response.status_code == 200
        pieces = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces).decode()  # whole, it is valid UTF-8...
    broken = 0
    for piece in pieces:
        try:
            piece.decode()
        except UnicodeDecodeError:
            broken += 1
    assert broken >= 4  # ...but the reads cut characters in half


async def test_chat_end_without_done_or_without_finish_reason(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream(done=False), chat_stream(finish_reason=None))
    client = chat(fake_upstream, http)
    assert ends(await collect(client))[-1] == Done("stop")
    assert ends(await collect(client))[-1] == Done(None)


async def test_chat_eof_with_neither_done_nor_finish_reason_is_a_cut(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream(["r"], ["c"], done=False, finish_reason=None))
    events, error = await collect_until_error(chat(fake_upstream, http))
    assert texts(events) == ("r", "c")
    assert isinstance(error, StreamCut)
    assert error.code == "cut"


async def test_chat_cut_connection_keeps_earlier_deltas(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream(["a", "b"], ["c", "d"], cut_after=3))
    events, error = await collect_until_error(chat(fake_upstream, http))
    assert events == [ReasoningDelta("a"), ReasoningDelta("b"), ContentDelta("c")]
    assert isinstance(error, StreamCut)
    assert "closed before the answer was complete" in error.message


def held(fake: FakeUpstream, http: aiohttp.ClientSession, hold: float, reads: list[float]):
    """A chat client whose reader asks for `hold` seconds after each read (and counts them)."""

    def read_hold() -> float:
        reads.append(hold)
        return hold

    return ChatCompletionsClient(ClientConfig(fake.base_url, KEY, read_hold=read_hold), http)


async def test_a_held_read_takes_what_the_provider_sent_meanwhile_at_once(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    """Tokens sent each in its own packet, 10 ms apart: a reader that holds for 60 ms
    after a read gets them a few reads at a time, each whole and in order."""
    reasoning, content = [f"r{i} " for i in range(12)], [f"c{i} " for i in range(12)]
    fake_upstream.enqueue(chat_stream(reasoning, content, delay=0.01))
    fake_upstream.enqueue(chat_stream(reasoning, content, delay=0.01))
    as_sent: list[float] = []
    events = await collect(held(fake_upstream, http, 0.0, as_sent))
    gathered: list[float] = []
    events_held = await collect(held(fake_upstream, http, 0.06, gathered))
    assert texts(events_held) == texts(events) == ("".join(reasoning), "".join(content))
    assert ends(events_held) == ends(events)
    # 0.25 s of tokens: one read per packet as sent, about one per 60 ms held.
    assert len(as_sent) >= 16
    assert len(gathered) <= 8


async def test_a_held_connection_goes_back_to_the_pool_reading(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    """The next request on a kept-alive connection is not left waiting for a hold."""
    for done in (True, False):  # the end read before the hold, or after it
        fake_upstream.enqueue(chat_stream(["a"], ["b"], done=done), chat_stream(["x"], ["y"]))
        assert texts(await collect(held(fake_upstream, http, 0.6, []))) == ("a", "b")
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert texts(await collect(chat(fake_upstream, http))) == ("x", "y")
        assert loop.time() - started < 0.3


def test_a_held_read_on_uvloop(fake_upstream: FakeUpstream) -> None:
    """Daphne runs on uvloop, whose transports are not asyncio's classes."""
    import uvloop

    tokens = [f"t{i} " for i in range(20)]
    fake_upstream.enqueue(chat_stream(tokens, ["ok"], delay=0.01))
    reads: list[float] = []

    async def read() -> list[Event]:
        async with new_session(idle_timeout=5.0) as session:
            return await collect(held(fake_upstream, session, 0.06, reads))

    events = uvloop.run(read())
    assert texts(events) == ("".join(tokens), "ok")
    assert len(reads) <= 8


async def test_a_cut_while_reads_are_held_is_still_a_cut(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream(["a", "b"], ["c", "d"], cut_after=3, delay=0.01))
    events, error = await collect_until_error(held(fake_upstream, http, 0.05, []))
    assert events == [ReasoningDelta("a"), ReasoningDelta("b"), ContentDelta("c")]
    assert isinstance(error, StreamCut)


async def test_chat_cut_inside_think_flushes_what_was_received(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream([], ["<think>abc", "</th", "ink>x"], cut_after=2))
    events, error = await collect_until_error(chat(fake_upstream, http))
    assert isinstance(error, StreamCut)
    assert texts(events) == ("abc</th", "")


async def test_chat_error_object_mid_stream(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream(["a", "b"], ["c"], error_after=2))
    events, error = await collect_until_error(chat(fake_upstream, http))
    assert events == [ReasoningDelta("a"), ReasoningDelta("b")]
    assert type(error) is ProviderError
    assert error.code == "upstream_error"
    assert "temporarily overloaded" in error.message


async def test_chat_chunk_that_is_not_json(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(Script(frames=[(0.0, b"data: {not json\n\n")]))
    _, error = await collect_until_error(chat(fake_upstream, http))
    assert "not JSON" in error.message


async def test_chat_payload(fake_upstream: FakeUpstream, http: aiohttp.ClientSession) -> None:
    request = StreamRequest(
        model="deepseek-v4-pro",
        messages=[Message("system", "Be brief."), Message("user", "Hi")],
        thinking="enabled",
        effort="max",
        max_tokens=2048,
    )
    await collect(chat(fake_upstream, http), request)
    await collect(chat(fake_upstream, http))
    sent, plain = fake_upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "model": "deepseek-v4-pro",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 2048,
        "thinking": {"type": "enabled"},
        "reasoning_effort": "max",
    }
    assert set(plain.json) == {"model", "messages", "stream", "stream_options"}


# --- HTTP errors (shared by both styles) --------------------------------------------------


@pytest.mark.parametrize("make", [chat, responses])
async def test_wrong_key_is_an_auth_error_without_the_key(
    fake_upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    make: Callable[[FakeUpstream, aiohttp.ClientSession, str], BaseClient],
) -> None:
    wrong = "sk-wrong-key-000000009999"
    _, error = await collect_until_error(make(fake_upstream, http, wrong))
    assert isinstance(error, AuthError)
    assert error.status == 401 and not error.retryable
    assert "Authentication Fails" in error.message and "****9999" in error.message
    assert wrong not in error.message and wrong not in repr(error)
    assert fake_upstream.requests[0].headers["authorization"] == f"Bearer {wrong}"


async def test_a_key_echoed_by_the_provider_is_scrubbed(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(error_response(403, {"error": {"message": f"key {KEY} is banned"}}))
    _, error = await collect_until_error(chat(fake_upstream, http))
    assert isinstance(error, AuthError)
    assert KEY not in error.message and "***" in error.message


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, RateLimited, True),
        (500, UpstreamUnavailable, True),
        (503, UpstreamUnavailable, True),
    ],
)
async def test_status_mapping(
    fake_upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    status: int,
    kind: type[ProviderError],
    retryable: bool,
) -> None:
    body = {"error": {"message": "Busy now", "type": "rate_limit_error"}}
    fake_upstream.enqueue(error_response(status, body), error_response(status, "plain text"))
    for _ in range(2):
        events, error = await collect_until_error(chat(fake_upstream, http))
        assert events == []
        assert isinstance(error, kind) and error.retryable is retryable
        assert error.status == status
    assert "plain text" in error.message


async def test_ark_invalid_parameter_is_a_bad_request_with_arks_message(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    body = {
        "error": {
            "code": "InvalidParameter",
            "message": "The parameter `thinking.type` specified in the request is not valid.",
            "param": "thinking.type",
            "type": "BadRequest",
        }
    }
    fake_upstream.enqueue(error_response(400, body))
    _, error = await collect_until_error(responses(fake_upstream, http))
    assert isinstance(error, BadRequest)
    assert "`thinking.type` specified in the request is not valid" in error.message
    assert "InvalidParameter" in error.message


async def test_silence_is_stalled(fake_upstream: FakeUpstream) -> None:
    first = sse({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    fake_upstream.enqueue(
        Script(frames=[(0.0, first)], ending="hang"),
        Script(ending="hang", first_byte_delay=0.05),
    )
    async with new_session(idle_timeout=0.3) as http:
        events, error = await collect_until_error(chat(fake_upstream, http))
        assert events == [ContentDelta("Hi")]
        assert isinstance(error, Stalled)
        assert "no data for 0.3 seconds" in error.message
        _, error = await collect_until_error(responses(fake_upstream, http))
        assert isinstance(error, Stalled)


async def test_closed_port_is_connect_failed(http: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ChatCompletionsClient(ClientConfig(f"http://127.0.0.1:{port}/v1", KEY), http)
    _, error = await collect_until_error(client)
    assert isinstance(error, ConnectFailed)
    assert error.retryable and KEY not in error.message


# --- responses ----------------------------------------------------------------------------


async def test_responses_stream(fake_upstream: FakeUpstream, http: aiohttp.ClientSession) -> None:
    usage = {
        "input_tokens": 9,
        "output_tokens": 50,
        "total_tokens": 59,
        "output_tokens_details": {"reasoning_tokens": 40},
    }
    fake_upstream.enqueue(responses_stream(["思考", "中🙂"], ["答", "案"], usage=usage))
    events = await collect(responses(fake_upstream, http))
    assert events == [
        ReasoningDelta("思考"),
        ReasoningDelta("中🙂"),
        ContentDelta("答"),
        ContentDelta("案"),
        Usage(9, 50, 40, 59),
        Done("stop"),
    ]


async def test_responses_split_bytes_and_no_done(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(responses_stream(["想"], ["🎉"], split_bytes=True, done=False))
    events = await collect(responses(fake_upstream, http))
    assert texts(events) == ("想", "🎉")
    assert ends(events) == [Usage(12, 2, 1, 14), Done("stop")]


async def test_responses_payload(fake_upstream: FakeUpstream, http: aiohttp.ClientSession) -> None:
    request = StreamRequest(
        model="doubao-seed-1-6",
        messages=[Message("user", "Hi")],
        thinking="enabled",
        effort="medium",
        max_tokens=1000,
    )
    await collect(responses(fake_upstream, http), request)
    (sent,) = fake_upstream.requests
    assert sent.path == "/v1/responses"
    assert sent.json == {
        "model": "doubao-seed-1-6",
        "input": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "max_output_tokens": 1000,
        "thinking": {"type": "enabled"},
        "reasoning": {"effort": "medium"},
    }


async def test_responses_refuses_effort_with_thinking_disabled_before_sending(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    request = StreamRequest(
        model="m", messages=REQUEST.messages, thinking="disabled", effort="high"
    )
    _, error = await collect_until_error(responses(fake_upstream, http), request)
    assert isinstance(error, BadRequest)
    assert error.message == (
        "Thinking is disabled, so reasoning effort must be 'minimal' (got 'high')."
    )
    assert fake_upstream.requests == []
    minimal = StreamRequest(
        model="m", messages=REQUEST.messages, thinking="disabled", effort="minimal"
    )
    assert ends(await collect(responses(fake_upstream, http), minimal))[-1] == Done("stop")


async def test_responses_failed_and_error_events(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    failed = {
        "type": "response.failed",
        "response": {"status": "failed", "error": {"code": "server_error", "message": "Oops."}},
    }
    fake_upstream.enqueue(
        Script(frames=[(0.0, sse(failed, "response.failed"))]),
        responses_stream(["a"], ["b", "c"], error_after=2),
        # The SSE event name is the fallback when the JSON has no `type`.
        Script(frames=[(0.0, sse({"message": "Nope.", "code": "bad"}, "error"))]),
    )
    client = responses(fake_upstream, http)
    _, error = await collect_until_error(client)
    assert error.message == "Oops. (server_error)"
    events, error = await collect_until_error(client)
    assert events == [ReasoningDelta("a"), ContentDelta("b")]
    assert "temporarily overloaded" in error.message
    _, error = await collect_until_error(client)
    assert error.message == "Nope. (bad)"


async def test_responses_incomplete(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    incomplete = {
        "type": "response.incomplete",
        "response": {
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "usage": {"input_tokens": 1, "output_tokens": 5, "total_tokens": 6},
        },
    }
    delta = {"type": "response.output_text.delta", "delta": "Par"}
    fake_upstream.enqueue(
        Script(frames=[(0.0, sse(delta, "response.output_text.delta")), (0.0, sse(incomplete))])
    )
    events = await collect(responses(fake_upstream, http))
    assert events == [ContentDelta("Par"), Usage(1, 5, None, 6), Done("length")]


async def test_responses_cut(fake_upstream: FakeUpstream, http: aiohttp.ClientSession) -> None:
    fake_upstream.enqueue(
        responses_stream(["a", "b"], ["c"], cut_after=3), responses_stream(done=False, cut_after=99)
    )
    client = responses(fake_upstream, http)
    events, error = await collect_until_error(client)
    assert events == [ReasoningDelta("a"), ReasoningDelta("b"), ContentDelta("c")]
    assert isinstance(error, StreamCut)
    _, error = await collect_until_error(client)
    assert isinstance(error, StreamCut)


# --- the fake's own checks ----------------------------------------------------------------


async def test_fake_refuses_replayed_reasoning_on_chat(
    fake_upstream: FakeUpstream, plain_http: httpx.AsyncClient
) -> None:
    url = fake_upstream.base_url + "/chat/completions"
    headers = {"Authorization": f"Bearer {KEY}"}
    user = {"role": "user", "content": "Hi"}
    for assistant in [
        {"role": "assistant", "content": "Hello", "reasoning_content": "thought"},
        {"role": "assistant", "content": "Hello", "reasoning": "thought"},
        {"role": "assistant", "content": "<think>thought</think>Hello"},
    ]:
        body = {"model": "m", "messages": [user, assistant, user], "stream": True}
        response = await plain_http.post(url, json=body, headers=headers)
        assert response.status_code == 400
        assert response.json() == REPLAYED_CHAT
    clean = {"role": "assistant", "content": "Hello"}
    body = {"model": "m", "messages": [user, clean, user], "stream": True}
    response = await plain_http.post(url, json=body, headers=headers)
    assert response.status_code == 200
    assert len(fake_upstream.requests) == 4


async def test_fake_refuses_replayed_reasoning_on_responses(
    fake_upstream: FakeUpstream, plain_http: httpx.AsyncClient
) -> None:
    url = fake_upstream.base_url + "/responses"
    headers = {"Authorization": f"Bearer {KEY}"}
    user = {"role": "user", "content": "Hi"}
    for item in [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}]},
        {"role": "assistant", "content": "Hello", "reasoning_content": "thought"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "<think>x</think>"}]},
    ]:
        body = {"model": "m", "input": [user, item, user], "stream": True}
        response = await plain_http.post(url, json=body, headers=headers)
        assert response.status_code == 400
        assert response.json() == REPLAYED_RESPONSES


async def test_fake_refuses_a_body_that_is_not_json(
    fake_upstream: FakeUpstream, plain_http: httpx.AsyncClient
) -> None:
    response = await plain_http.post(
        fake_upstream.base_url + "/chat/completions",
        content=b"{oops",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400
    assert fake_upstream.requests[0].json is None


async def test_fake_default_script_and_token_stream(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.default_script = token_stream(3, 2, rate=None)
    client = chat(fake_upstream, http)
    for _ in range(2):
        assert texts(await collect(client)) == ("tok " * 3, "tok " * 2)
    fake_upstream.default_script = token_stream(2, 1, rate=1000, style="responses", token="t")
    events = await collect(responses(fake_upstream, http))
    assert texts(events) == ("tt", "t") and ends(events) == [Usage(12, 3, 2, 15), Done("stop")]
    assert len(await fake_upstream.await_requests(3)) == 3


# --- client_for, the shared HTTP client, the demo -----------------------------------------


async def test_client_for_and_the_shared_http_client() -> None:
    config = ClientConfig("http://127.0.0.1:1/v1", KEY)
    assert isinstance(client_for("chat-completions", config), ChatCompletionsClient)
    assert isinstance(client_for("responses", config), ResponsesClient)
    assert isinstance(client_for("demo", config), DemoClient)
    with pytest.raises(ValueError):
        client_for("soap", config)
    shared = get_http_client()
    assert client_for("responses", config).http is shared
    assert get_http_client() is shared
    assert shared.timeout.sock_read == django_settings.UPSTREAM_IDLE_TIMEOUT
    assert shared.timeout.connect == django_settings.UPSTREAM_CONNECT_TIMEOUT
    assert KEY not in repr(config)
    await close_http_clients()
    assert shared.closed and get_http_client() is not shared
    await close_http_clients()


async def test_one_http_client_per_event_loop() -> None:
    def in_another_loop() -> aiohttp.ClientSession:
        async def get() -> aiohttp.ClientSession:
            client = get_http_client()
            await close_http_clients()
            return client

        return asyncio.run(get())

    other = await asyncio.to_thread(in_another_loop)
    assert other is not get_http_client()
    await close_http_clients()


async def test_demo_streams_reasoning_then_content(settings: Settings) -> None:
    settings.DEMO_DELAY_SECONDS = 0
    long = "Explain " + "very " * 30 + "carefully"
    request = StreamRequest(model="reasoner", messages=[Message("user", long)])
    client = DemoClient(ClientConfig(""))
    assert not hasattr(client, "http")  # nothing to reach the network with
    events = await collect(client, request)
    reasoning, content = texts(events)
    kinds = [type(e) for e in events]
    assert kinds.index(ContentDelta) > max(i for i, k in enumerate(kinds) if k is ReasoningDelta)
    assert "Explain very very" in reasoning and "…" in reasoning and "carefully" not in reasoning
    assert content.startswith("**This is the offline demo.**")
    usage, done = events[-2:]
    assert done == Done("stop")
    assert isinstance(usage, Usage) and usage.reasoning_tokens and usage.completion_tokens
    assert usage.completion_tokens > usage.reasoning_tokens
    assert await collect(client, request) == events  # deterministic


async def test_demo_answer_shows_what_the_page_renders(settings: Settings) -> None:
    """A code block, a table and math ($ inline, $$ on lines of their own), as the
    page's Markdown renders them; in the active language, English or Chinese."""
    from django.utils import translation

    settings.DEMO_DELAY_SECONDS = 0
    for language, said in (("en", "Tables:"), ("zh-hans", "表格：")):
        with translation.override(language):
            events = await collect(DemoClient(ClientConfig("")), REQUEST)
        content = texts(events)[1]
        assert said in content
        fence = content.index("```python\n")
        assert content.index("\n```\n", fence) > fence  # the fence closes
        assert "\n|---|---|---|\n" in content
        assert re.search(r"(?m)^\| .+ \| .+ \| .+ \|$", content)
        assert re.search(r" \$F_n = [^$ ][^$]*[^$ ]\$[^\d]", content)  # inline math
        assert re.search(r"(?m)^\$\$\n.+\n\$\$$", content)  # display math


async def test_demo_streams_chinese_a_character_at_a_time(settings: Settings) -> None:
    from django.utils import translation

    from providers.clients.demo import words

    assert words("你好，世界 and more\n中文") == [
        "你",
        "好",
        "，",
        "世",
        "界 ",
        "and ",
        "more\n",
        "中",
        "文",
    ]
    settings.DEMO_DELAY_SECONDS = 0
    with translation.override("zh-hans"):
        events = await collect(DemoClient(ClientConfig("")), REQUEST)
    pieces = [e.text for e in events if isinstance(e, ContentDelta)]
    assert max(len(p.strip()) for p in pieces if not p.isascii()) <= 2


async def test_demo_without_thinking(settings: Settings) -> None:
    settings.DEMO_DELAY_SECONDS = 0
    request = StreamRequest(model="reasoner", messages=REQUEST.messages, thinking="disabled")
    events = await collect(client_for("demo", ClientConfig("")), request)
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    assert texts(events)[1] and events[-1] == Done("stop")
