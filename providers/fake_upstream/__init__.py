"""The scripted fake upstream: a real HTTP/1.1 server on loopback.

It speaks both API styles byte for byte (SSE framing, keep-alive comments, usage
chunks, error bodies, cut and hanging connections) and checks requests the way
real providers do: a wrong key gets DeepSeek's 401, replayed reasoning gets the
400 of R1-era chat APIs or Ark's `InvalidParameter`. It runs on its own event
loop in a daemon thread, so sync tests, async tests and separate daphne
processes can all reach it over real sockets.

Tests queue `Script`s (built with `chat_stream`, `responses_stream`,
`error_response`, `token_stream`); each POST takes the next one. By hand:

    python -m providers.fake_upstream --port 8001 --rate 20 [--api-key KEY] [--rules PRESET]

`FakeUpstream.rules = "<preset name>"` (or `--rules`) makes it refuse, with that
provider's own 400 body, the parameters that provider refuses (`checks.rule_refusal`);
`listed_models` is what `GET /models` lists.

The parts: `frames` (SSE framing, `Script`, shared helpers), `chat` (chat
completions chunks), `responses` (Responses events), `load` (`token_stream`),
`checks` (the provider's refusals), `server` (`FakeUpstream`), `cli` (the dev server).
"""

from providers.fake_upstream.chat import chat_stream, default_chat_usage
from providers.fake_upstream.checks import (
    REPLAYED_CHAT,
    REPLAYED_RESPONSES,
    replays_reasoning,
    rule_refusal,
)
from providers.fake_upstream.cli import dev_script, main
from providers.fake_upstream.frames import (
    CREATED,
    DEFAULT_CONTENT,
    DEFAULT_REASONING,
    JSON_HEADERS,
    MID_STREAM_ERROR,
    SSE_HEADERS,
    Ending,
    Frame,
    RecordedRequest,
    Script,
    dumps,
    error_response,
    keepalive_frame,
    split_frame,
    sse,
)
from providers.fake_upstream.load import token_stream
from providers.fake_upstream.responses import default_responses_usage, responses_stream
from providers.fake_upstream.server import FakeUpstream

__all__ = [
    "CREATED",
    "DEFAULT_CONTENT",
    "DEFAULT_REASONING",
    "JSON_HEADERS",
    "MID_STREAM_ERROR",
    "REPLAYED_CHAT",
    "REPLAYED_RESPONSES",
    "SSE_HEADERS",
    "Ending",
    "FakeUpstream",
    "Frame",
    "RecordedRequest",
    "Script",
    "chat_stream",
    "default_chat_usage",
    "default_responses_usage",
    "dev_script",
    "dumps",
    "error_response",
    "keepalive_frame",
    "main",
    "replays_reasoning",
    "responses_stream",
    "rule_refusal",
    "split_frame",
    "sse",
    "token_stream",
]
