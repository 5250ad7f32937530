"""The OpenAI-compatible API end to end: the official `openai` client against a real
daphne process, the fake upstream behind it, on both provider styles.

One daphne process serves the module (starting one per test would double the run);
it caches nothing between tests (CHAT_MODEL_CACHE_SECONDS=0) and leaves the
per-minute and bad-token limits to the tests that start their own process for them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from django.test import Client

from accounts.teams import Team
from accounts.tokens import ApiToken, create_token, revoke
from conversations.models import Conversation, Turn
from providers.fake_upstream import FakeUpstream, Script, chat_stream, responses_stream
from providers.models import ChatModel, Provider
from tests.conftest import TEST_API_KEY, _make_provider, server_env
from tests.servers import DaphneServer

pytestmark = pytest.mark.django_db(transaction=True)

STYLES = ["chat_provider", "responses_provider"]
REFS = {"chat_provider": "fake/fake-r1", "responses_provider": "fake-resp/fake-r1"}
SCRIPTS = {"chat_provider": chat_stream, "responses_provider": responses_stream}


def start_server(**extra: str) -> DaphneServer:
    env = {
        "CHAT_MODEL_CACHE_SECONDS": "0",
        "CHAT_MESSAGES_PER_MINUTE": "0",
        "API_TOKEN_MAX_FAILURES": "0",
        "CHAT_MAX_MESSAGE_CHARS": "2000",
        "DEMO_PROVIDER": "0",
        **extra,
    }
    return DaphneServer(server_env(**env), ready_within=20)


@pytest.fixture(scope="module")
def server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[DaphneServer]:
    with django_db_blocker.unblock():
        started = start_server()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def no_demo(transactional_db: Any) -> None:
    """The offline demo row `migrate` made: these tests list models exactly."""
    Provider.objects.filter(name="demo").delete()


@pytest.fixture
def secret(alice: Any) -> str:
    return create_token(alice, "laptop", actor=None, via="test")[1]


def sdk(server: DaphneServer, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=secret, max_retries=0, timeout=20)


def api_turn() -> Turn:
    return Turn.objects.get(role=Turn.Role.ASSISTANT, conversation__source="api")


def wait_turn_ended(within: float = 10.0) -> Turn:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        turn = Turn.objects.filter(role=Turn.Role.ASSISTANT).first()
        if turn is not None and turn.status != Turn.Status.STREAMING:
            return turn
        time.sleep(0.05)
    raise AssertionError("the turn did not end")


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code"}
    return dict(body["error"])


# --- models ---------------------------------------------------------------------


def test_models_are_exactly_those_the_owner_may_use(
    server: DaphneServer, secret: str, chat_provider: Any, responses_provider: Any, bob: Any
) -> None:
    team = Team.objects.create(name="Research")
    team.members.add(bob)
    team.models.add(ChatModel.objects.get(provider=responses_provider))  # not alice's

    listed = sdk(server, secret).models.list()
    assert [m.id for m in listed.data] == ["fake/fake-r1"]
    raw = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert raw.json() == {
        "object": "list",
        "data": [
            {
                "id": "fake/fake-r1",
                "object": "model",
                "created": int(chat_provider.created.timestamp()),
                "owned_by": "fake",
            }
        ],
    }


# --- answers ----------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_streamed_answer_with_usage_is_stored_as_a_turn(
    request: Any, style: str, server: DaphneServer, secret: str, fake_upstream: FakeUpstream
) -> None:
    request.getfixturevalue(style)
    fake_upstream.enqueue(SCRIPTS[style](reasoning=["Think", "ing."], content=["Hel", "lo"]))
    stream = sdk(server, secret).chat.completions.create(
        model=REFS[style],
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.3,  # unknown to us: ignored
    )
    chunks = list(stream)
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, content) == ("Thinking.", "Hello")
    assert all(c.object == "chat.completion.chunk" and c.model == REFS[style] for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    details = usage_chunk.usage.completion_tokens_details
    assert details is not None and details.reasoning_tokens == 2

    turn = api_turn()
    assert {c.id for c in chunks} == {f"chatcmpl-{turn.id}"}
    assert turn.status == "completed" and turn.api_token == "laptop"
    assert (turn.reasoning_content, turn.content) == ("Thinking.", "Hello")
    assert turn.usage is not None and turn.usage["reasoning_tokens"] == 2
    assert turn.timings is not None and turn.timings["total"] is not None
    assert turn.conversation.owner.username == "alice"


@pytest.mark.parametrize("style", STYLES)
def test_answer_not_streamed(
    request: Any, style: str, server: DaphneServer, secret: str, fake_upstream: FakeUpstream
) -> None:
    request.getfixturevalue(style)
    fake_upstream.enqueue(SCRIPTS[style](reasoning=["Hm."], content=["Yes", "."]))
    done = sdk(server, secret).chat.completions.create(
        model=REFS[style],
        messages=[{"role": "user", "content": [{"type": "text", "text": "ok?"}]}],
        max_tokens=100,
    )
    turn = api_turn()
    assert done.id == f"chatcmpl-{turn.id}" and done.object == "chat.completion"
    assert done.model == REFS[style]
    message = done.choices[0].message
    assert (message.role, message.content) == ("assistant", "Yes.")
    assert message.reasoning_content == "Hm."  # type: ignore[attr-defined]
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.completion_tokens_details is not None
    assert done.usage.completion_tokens_details.reasoning_tokens == 1
    sent: dict[str, Any] = fake_upstream.requests[-1].json
    assert (sent.get("max_tokens") or sent.get("max_output_tokens")) == 100


@pytest.mark.parametrize("style", STYLES)
def test_replayed_reasoning_never_goes_upstream_and_the_trace_shows_what_did(
    request: Any,
    style: str,
    server: DaphneServer,
    secret: str,
    fake_upstream: FakeUpstream,
    alice: Any,
) -> None:
    request.getfixturevalue(style)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first", "reasoning_content": "secret thoughts"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "second", "reasoning": "more thoughts"},
        {"role": "user", "content": "three"},
    ]
    sdk(server, secret).chat.completions.create(model=REFS[style], messages=messages)  # type: ignore[arg-type]
    assert api_turn().status == "completed"  # the fake answers 400 to replayed reasoning
    sent = fake_upstream.requests[-1].json
    upstream = sent.get("messages") or sent.get("input")
    assert "thoughts" not in json.dumps(sent)
    expected = [{"role": m["role"], "content": m["content"]} for m in messages]
    if style == "chat_provider":
        assert upstream == expected
    else:
        assert [(m["role"], m["content"]) for m in upstream] == [
            (m["role"], m["content"]) for m in expected
        ]

    client = Client()
    client.force_login(alice)
    response = client.get("/review/export.jsonl?source=api")
    lines = b"".join(response.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert [json.loads(line)["messages"] for line in lines] == [expected]


def test_api_turns_are_in_review_by_source_and_off_the_chat_lists(
    server: DaphneServer,
    secret: str,
    fake_upstream: FakeUpstream,
    chat_provider: Any,
    alice: Any,
    conversation: Conversation,
) -> None:
    sdk(server, secret).chat.completions.create(
        model="fake/fake-r1", messages=[{"role": "user", "content": "from the api"}]
    )
    api = api_turn()
    chat = Turn.objects.create(
        conversation=conversation, index=1, role="assistant", status="completed", content="chat"
    )
    client = Client()
    client.force_login(alice)
    assert str(api.id) in client.get("/review/?source=api").content.decode()
    assert str(chat.id) not in client.get("/review/?source=api").content.decode()
    page = client.get("/review/?source=chat").content.decode()
    assert str(chat.id) in page and str(api.id) not in page
    assert client.get("/review/?source=other").status_code == 400
    listed = client.get("/api/conversations/").json()["conversations"]
    assert [c["id"] for c in listed] == [str(conversation.id)]
    assert str(api.conversation_id) not in client.get("/").content.decode()
    # Nor can the chat open it: no page, no JSON, no socket (the same lookup).
    assert client.get(f"/c/{api.conversation_id}/").status_code == 404
    assert client.get(f"/api/conversations/{api.conversation_id}/").status_code == 404


# --- errors -----------------------------------------------------------------------


def test_bad_tokens_are_401(
    server: DaphneServer, secret: str, alice: Any, bob: Any, chat_provider: Any
) -> None:
    def refused(key: str) -> dict[str, Any]:
        with pytest.raises(openai.AuthenticationError) as caught:
            sdk(server, key).models.list()
        assert caught.value.status_code == 401
        return error_of(caught.value)

    assert refused("sk-not-a-token")["code"] == "invalid_api_key"
    missing = httpx.post(server.url + "/v1/chat/completions", json={"model": "fake/fake-r1"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    # /v1/ runs without the site's middleware: the view answers in the request's language.
    chinese = httpx.get(server.url + "/v1/models", headers={"Accept-Language": "zh-CN"})
    assert chinese.json()["error"]["message"].startswith("API 密钥无效")

    revoked = create_token(alice, "old", actor=None, via="test")
    revoke(revoked[0], actor=None, via="test")
    assert refused(revoked[1])["code"] == "invalid_api_key"
    expired = create_token(alice, "short", expires_days=1, actor=None, via="test")
    ApiToken.objects.filter(pk=expired[0].pk).update(expires=expired[0].created)
    assert refused(expired[1])["code"] == "invalid_api_key"
    inactive = create_token(bob, "bob's", actor=None, via="test")[1]
    bob.is_active = False
    bob.save()
    assert refused(inactive)["code"] == "invalid_api_key"
    assert sdk(server, secret).models.list().data  # the good one still works


def test_request_errors(
    server: DaphneServer,
    secret: str,
    chat_provider: Any,
    responses_provider: Any,
    bob: Any,
    fake_upstream: FakeUpstream,
) -> None:
    client = sdk(server, secret)
    hello = [{"role": "user", "content": "hi"}]

    def refused(**body: Any) -> tuple[int, dict[str, Any]]:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(**body)
        return caught.value.status_code, error_of(caught.value)

    team = Team.objects.create(name="Other")
    team.members.add(bob)
    team.models.add(ChatModel.objects.get(provider=responses_provider))
    unknown = refused(model="fake/nope", messages=hello)
    not_allowed = refused(model="fake-resp/fake-r1", messages=hello)
    assert unknown == not_allowed
    assert unknown[0] == 404 and unknown[1]["code"] == "model_not_found"

    status, error = refused(model="fake/fake-r1", messages=hello, reasoning_effort="low")
    assert (status, error["code"]) == (400, "invalid_options")
    assert "reasoning_effort" in error["message"]
    status, error = refused(
        model="fake/fake-r1", messages=hello, extra_body={"thinking": {"type": "auto"}}
    )
    assert (status, error["code"]) == (400, "invalid_options") and "thinking" in error["message"]

    status, error = refused(
        model="fake/fake-r1", messages=[{"role": "user", "content": "x" * 2001}]
    )
    assert (status, error["code"]) == (400, "too_large")
    assert "messages[0].content" in error["message"]

    status, error = refused(model="fake/fake-r1", messages=[])
    assert (status, error["code"]) == (400, "invalid_request") and "messages" in error["message"]
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    status, error = refused(
        model="fake/fake-r1",
        messages=[{"role": "user", "content": [{"type": "text", "text": "see"}, image]}],
    )
    assert (status, error["code"]) == (400, "invalid_request")
    assert "messages[0].content[1]" in error["message"] and "only text" in error["message"]
    status, error = refused(model="fake/fake-r1", messages=[{"role": "tool", "content": "x"}])
    assert (status, error["code"]) == (400, "invalid_request") and "role" in error["message"]
    surrogate = b'{"model": "fake/fake-r1", "messages": [{"role": "user", "content": "\\ud800"}]}'
    for body in (b"{not json", b"[" * 5000 + b"]" * 5000, surrogate):
        bad_json = httpx.post(
            server.url + "/v1/chat/completions",
            content=body,
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert bad_json.status_code == 400, body[:40]
        assert bad_json.json()["error"]["code"] == "invalid_request"
    assert fake_upstream.requests == []  # none of these went upstream
    assert not Turn.objects.exists()


def test_completions_answers_http_errors_in_openai_shape(
    server: DaphneServer, secret: str, alice: Any, chat_provider: Any, fake_upstream: FakeUpstream
) -> None:
    """`/v1/chat/completions` is served without Django's request handling
    (completions.py): the method, the body's size, the language, the headers of its
    refusals, a revoked token and a proxy's address are its own to get right."""
    url = server.url + "/v1/chat/completions"
    auth = {"Authorization": f"Bearer {secret}"}
    wrong_method = httpx.get(url, headers=auth)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    models_posted = httpx.post(server.url + "/v1/models", headers=auth)
    assert models_posted.status_code == 405 and models_posted.headers["Allow"] == "GET"
    assert models_posted.json()["error"]["code"] == "method_not_allowed"

    huge = b'{"model": "fake/fake-r1", "messages": [], "x": "' + b"x" * 2_700_000 + b'"}'
    too_big = httpx.post(url, content=huge, headers=auth, timeout=20)
    assert too_big.status_code == 400 and too_big.json()["error"]["code"] == "too_large"

    unknown = httpx.post(url, json={"model": "fake/nope"}, headers={"Accept-Language": "zh-CN"})
    assert unknown.status_code == 401
    assert unknown.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert unknown.headers["Content-Type"] == "application/json"
    assert unknown.json()["error"]["message"].startswith("API 密钥无效")

    revoked = create_token(alice, "old", actor=None, via="test")
    revoke(revoked[0], actor=None, via="test")
    hello = {"model": "fake/fake-r1", "messages": [{"role": "user", "content": "hi"}]}
    gone = httpx.post(url, json=hello, headers={"Authorization": f"Bearer {revoked[1]}"})
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "invalid_api_key"
    assert fake_upstream.requests == [] and not Turn.objects.exists()

    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["fine"]))
    answered = httpx.post(url, json=hello, headers=auth, timeout=20)
    assert answered.status_code == 200 and answered.headers["Content-Type"] == "application/json"
    assert answered.json()["choices"][0]["message"]["content"] == "fine"
    assert ApiToken.objects.get(name="laptop").last_used is not None


def test_quota_is_checked_before_any_upstream_call(
    server: DaphneServer, secret: str, alice: Any, chat_provider: Any, fake_upstream: FakeUpstream
) -> None:
    team = Team.objects.create(name="Research", daily_token_quota=0)
    team.members.add(alice)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(server, secret).chat.completions.create(
            model="fake/fake-r1", messages=[{"role": "user", "content": "hi"}]
        )
    error = error_of(caught.value)
    assert error["code"] == "quota_exceeded" and "00:00 UTC" in error["message"]
    assert fake_upstream.requests == [] and not Turn.objects.exists()


def test_a_failure_after_the_stream_started_ends_it_with_one_error(
    server: DaphneServer, secret: str, chat_provider: Any, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(chat_stream(reasoning=["a", "b", "c"], error_after=2))
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "model": "fake/fake-r1",
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
        timeout=20,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    error = json.loads(events[-2].removeprefix("data: "))
    assert set(error) == {"error"} and error["error"]["code"] == "upstream_error"
    assert not any('"error"' in line for line in events[:-2])
    assert api_turn().status == "failed"

    fake_upstream.enqueue(chat_stream(reasoning=["a", "b", "c"], error_after=2))
    with pytest.raises(openai.APIError):
        list(
            sdk(server, secret).chat.completions.create(
                model="fake/fake-r1", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )

    # Not streamed: a 502 with the error the stream carried.
    fake_upstream.enqueue(chat_stream(reasoning=["a", "b", "c"], error_after=2))
    whole = httpx.post(
        server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "fake/fake-r1", "messages": [{"role": "user", "content": "x"}]},
        timeout=20,
    )
    assert whole.status_code == 502
    assert whole.json() == error


def test_a_client_that_goes_away_stops_the_upstream_request(
    server: DaphneServer, secret: str, alice: Any
) -> None:
    # An upstream of its own: its open connections are exactly this test's request.
    with FakeUpstream(api_key=TEST_API_KEY) as upstream:
        _make_provider(
            "slow", "chat-completions", upstream.base_url, TEST_API_KEY, max_output_tokens=64
        )
        script: Script = chat_stream(reasoning=["Thinking", " more"], content=[])
        script.frames = [frame for frame in script.frames if b"[DONE]" not in frame[1]]
        script.frames = script.frames[:3]  # the role and two reasoning chunks, then nothing
        script.ending = "hang"
        upstream.enqueue(script)
        stream = sdk(server, secret).chat.completions.create(
            model="slow/fake-r1", messages=[{"role": "user", "content": "x"}], stream=True
        )
        seen = ""
        for chunk in stream:
            seen += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            if seen == "Thinking more":
                break
        stream.close()
        turn = wait_turn_ended()
        assert turn.status == "stopped" and turn.reasoning_content == "Thinking more"
        deadline = time.monotonic() + 5
        while upstream._handlers and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.05)
        assert not upstream._handlers  # noqa: SLF001 (the upstream connection was closed)


def test_per_person_limits_are_429_rate_limited_with_retry_after(
    daphne_factory: Any, secret: str, chat_provider: Any, fake_upstream: FakeUpstream
) -> None:
    server = daphne_factory(CHAT_MODEL_CACHE_SECONDS="0", CHAT_MESSAGES_PER_MINUTE="1")
    client = sdk(server, secret)
    client.chat.completions.create(
        model="fake/fake-r1", messages=[{"role": "user", "content": "a"}]
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="fake/fake-r1", messages=[{"role": "user", "content": "b"}]
        )
    assert error_of(caught.value)["code"] == "rate_limited"
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    assert len(fake_upstream.requests) == 1


def test_a_burst_of_bad_tokens_from_one_address_gets_429(
    daphne_factory: Any, secret: str, chat_provider: Any
) -> None:
    server = daphne_factory(API_TOKEN_MAX_FAILURES="3")
    for _ in range(3):
        with pytest.raises(openai.AuthenticationError):
            sdk(server, "sk-guess").models.list()
    for key in ("sk-guess", secret):  # the good one too: guessing stops
        with pytest.raises(openai.RateLimitError) as caught:
            sdk(server, key).models.list()
        assert error_of(caught.value)["code"] == "rate_limited"
        assert int(caught.value.response.headers["Retry-After"]) > 0


def test_stream_chunks_are_openai_bytes(
    server: DaphneServer, secret: str, chat_provider: Any, fake_upstream: FakeUpstream
) -> None:
    """The raw stream, as a gateway's client reads it: each event one JSON chunk."""
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["c"]))
    body = {
        "model": "fake/fake-r1",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "x"}],
    }
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {secret}"},
        json=body,
        timeout=20,
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "r"},
        {"content": "c"},
        {},
    ]
    assert chunks[-1]["choices"] == [] and set(chunks[-1]["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "completion_tokens_details",
    }
