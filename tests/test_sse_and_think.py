"""The two stream parsers on their own: `<think>` tags in content, and SSE framing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from providers.clients.sse import iter_sse
from providers.clients.think import ThinkTagParser
from providers.wire import ContentDelta, ReasoningDelta

Delta = ReasoningDelta | ContentDelta


def parse(pieces: Sequence[str]) -> list[Delta]:
    parser = ThinkTagParser()
    out: list[Delta] = []
    for piece in pieces:
        out += parser.feed(piece)
    return out + parser.flush()


def texts(deltas: list[Delta]) -> tuple[str, str]:
    assert all(d.text for d in deltas), f"empty delta in {deltas}"
    reasoning = "".join(d.text for d in deltas if isinstance(d, ReasoningDelta))
    content = "".join(d.text for d in deltas if isinstance(d, ContentDelta))
    return reasoning, content


def assert_reasoning_first(deltas: list[Delta]) -> None:
    kinds = [type(d) for d in deltas]
    if ContentDelta in kinds:
        assert ReasoningDelta not in kinds[kinds.index(ContentDelta) :]


# --- ThinkTagParser -----------------------------------------------------------------------

WHOLE = "<think>\nLet me see: 2 < 3.</think>\n\nThe answer is <think> yes."


def test_tags_split_at_every_pair_of_positions() -> None:
    for i in range(len(WHOLE) + 1):
        for j in range(i, len(WHOLE) + 1):
            deltas = parse([WHOLE[:i], WHOLE[i:j], WHOLE[j:]])
            assert texts(deltas) == ("\nLet me see: 2 < 3.", "The answer is <think> yes."), (i, j)
            assert_reasoning_first(deltas)


def test_one_character_at_a_time() -> None:
    deltas = parse(list(WHOLE))
    assert texts(deltas) == ("\nLet me see: 2 < 3.", "The answer is <think> yes.")


def test_text_is_emitted_as_soon_as_it_cannot_be_a_tag() -> None:
    parser = ThinkTagParser()
    assert parser.feed("<thi") == []
    assert parser.feed("nk>Hmm") == [ReasoningDelta("Hmm")]
    assert parser.feed(", ok</th") == [ReasoningDelta(", ok")]
    assert parser.feed("ink>") == []
    assert parser.feed("\n\n") == []
    assert parser.feed("Yes") == [ContentDelta("Yes")]
    assert parser.feed(" <") == [ContentDelta(" <")]
    assert parser.flush() == []


def test_plain_content_streams_at_once() -> None:
    parser = ThinkTagParser()
    assert parser.feed("Hello") == [ContentDelta("Hello")]
    assert parser.feed(" <think>") == [ContentDelta(" <think>")]


def test_literal_think_later_in_the_answer_stays_content() -> None:
    assert texts(parse(["Use ", "<think>", " tags</think> like this"])) == (
        "",
        "Use <think> tags</think> like this",
    )


def test_whitespace_before_think_still_opens_reasoning() -> None:
    assert texts(parse(["\n ", " <thi", "nk>why</think>", "  because"])) == ("why", "because")


def test_a_tag_like_start_that_is_not_think_is_content() -> None:
    assert texts(parse(["<", "b>bold</b>"])) == ("", "<b>bold</b>")


def test_flush_emits_a_dangling_prefix_as_the_current_kind() -> None:
    parser = ThinkTagParser()
    assert parser.feed("<thi") == []
    assert parser.flush() == [ContentDelta("<thi")]

    parser = ThinkTagParser()
    assert parser.feed("<think>abc</thi") == [ReasoningDelta("abc")]
    assert parser.flush() == [ReasoningDelta("</thi")]


def test_never_empty_deltas() -> None:
    parser = ThinkTagParser()
    for piece in ["", "  ", "<think>", "", "</think>", "\n\n", ""]:
        assert parser.feed(piece) == []
    assert parser.flush() == []


def test_unclosed_think_is_all_reasoning() -> None:
    assert texts(parse(["<think>still", " thinking"])) == ("still thinking", "")


# --- iter_sse -----------------------------------------------------------------------------


async def events(*chunks: bytes) -> list[tuple[str, str]]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return [event async for event in iter_sse(body())]


async def test_sse_framing() -> None:
    got = await events(
        b": keep-alive\n\n",
        b"event: ping\ndata: a\n",
        b"data:b\n\nid: 7\nretry: 10\n\n",
        b"data: last",
    )
    assert got == [("ping", "a\nb"), ("message", "last")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
async def test_sse_line_endings_split_anywhere(newline: bytes) -> None:
    raw = b"data: one" + newline + newline + b"data: two" + newline + b"data: 2b" + newline * 2
    for cut in range(len(raw) + 1):
        assert await events(raw[:cut], raw[cut:]) == [("message", "one"), ("message", "two\n2b")]


async def test_sse_utf8_split_inside_a_character_and_unicode_line_separators() -> None:
    raw = 'data: {"t":"思考🙂\u2028x"}\n\n'.encode()
    for cut in range(len(raw) + 1):
        assert await events(raw[:cut], raw[cut:]) == [("message", '{"t":"思考🙂\u2028x"}')]
