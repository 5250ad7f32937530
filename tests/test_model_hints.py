"""Model hints and the conversation's system prompt, applied by the context builder.

Each hint must change the request exactly as described and nothing else: the tests
run the same two-turn conversation against the fake upstream with and without it, on
both API styles, and compare the recorded request bodies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from conversations.context import NO_HINTS, THINK_PREFIX, ModelHints, build_context
from conversations.models import Conversation, Turn
from providers.clients.think import ThinkTagParser
from providers.fake_upstream import chat_stream, responses_stream
from providers.models import ChatModel
from providers.wire import ContentDelta, Message, ReasoningDelta
from tests.helpers import run_turn

STYLES = {
    "chat-completions": ("fake/fake-r1", chat_stream, "messages"),
    "responses": ("fake-resp/fake-r1", responses_stream, "input"),
}
PROMPT = "Answer in French."
PREFILL = {"role": "assistant", "content": "<think>\n"}


def _set_hints(ref: str, **hints: bool) -> None:
    provider, model_id = ref.split("/", 1)
    model = ChatModel.objects.get(provider__name=provider, model_id=model_id)
    model.no_system_prompt = hints.get("no_system_prompt", False)
    model.think_prefix = hints.get("think_prefix", False)
    model.save()  # post_save empties the catalog's cache


async def _bodies(
    style: str, ws_for: Any, user: Any, fake_upstream: Any, system_prompt: str = "", **hints: bool
) -> list[dict[str, Any]]:
    """The request bodies of a fresh two-turn conversation, the model's hints set."""
    ref, stream, _ = STYLES[style]
    await database_sync_to_async(_set_hints)(ref, **hints)
    conversation = await database_sync_to_async(Conversation.objects.create)(
        owner=user, system_prompt=system_prompt
    )
    start = len(fake_upstream.requests)
    for i in range(2):
        fake_upstream.enqueue(stream(reasoning=[f"secret thought {i}"], content=[f"answer {i}"]))
        frames, turn = await run_turn(
            ws_for, user, conversation, content=f"question {i}", model=ref
        )
        assert frames[-1]["type"] == "turn.completed", frames[-1]
        assert turn.reasoning_content == f"secret thought {i}"
        assert turn.content == f"answer {i}"
    bodies = [r.json for r in fake_upstream.requests[start:]]
    assert len(bodies) == 2
    for body in bodies:
        assert "secret thought" not in json.dumps(body)  # reasoning still never goes back
    return bodies


def _rest(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


# --- the builder itself ---------------------------------------------------------------


def _turn(role: str, content: str, reasoning: str = "") -> Turn:
    return Turn(role=role, content=content, status="completed", reasoning_content=reasoning)


TURNS = [
    _turn("user", "q1"),
    _turn("assistant", "a1", reasoning="r1"),
    _turn("user", "q2"),
]


def test_without_prompt_or_hints_the_context_is_the_turns():
    assert build_context(TURNS) == build_context(TURNS, system_prompt="  \n", hints=NO_HINTS)
    assert build_context(TURNS) == [
        Message("user", "q1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
    ]


def test_a_system_prompt_goes_first():
    assert build_context(TURNS, system_prompt=PROMPT) == [
        Message("system", PROMPT),
        Message("user", "q1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
    ]


def test_no_system_prompt_folds_it_into_the_first_message():
    hints = ModelHints(no_system_prompt=True)
    assert build_context(TURNS, system_prompt=PROMPT, hints=hints) == [
        Message("user", f"{PROMPT}\n\nq1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
    ]
    # Nothing to fold: nothing changes.
    assert build_context(TURNS, hints=hints) == build_context(TURNS)


def test_think_prefix_ends_the_context_with_the_prefill():
    hints = ModelHints(no_system_prompt=True, think_prefix=True)
    assert build_context(TURNS, system_prompt=PROMPT, hints=hints) == [
        Message("user", f"{PROMPT}\n\nq1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
        Message("assistant", THINK_PREFIX),
    ]
    assert THINK_PREFIX == "<think>\n"


def test_model_hints_come_from_the_model_fields():
    model = ChatModel(model_id="m", no_system_prompt=True, think_prefix=False)
    assert ModelHints.of(model) == ModelHints(no_system_prompt=True)
    assert ModelHints.of(None) == NO_HINTS


# --- the requests, on both API styles --------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("style", STYLES)
async def test_think_prefix_adds_the_prefill_and_nothing_else(
    style, ws_for, alice, fake_upstream, chat_provider, responses_provider
):
    key = STYLES[style][2]
    plain = await _bodies(style, ws_for, alice, fake_upstream)
    hinted = await _bodies(style, ws_for, alice, fake_upstream, think_prefix=True)
    for without, with_hint in zip(plain, hinted, strict=True):
        assert with_hint[key] == [*without[key], PREFILL]
        assert _rest(with_hint, key) == _rest(without, key)
    assert hinted[1][key] == [
        {"role": "user", "content": "question 0"},
        {"role": "assistant", "content": "answer 0"},
        {"role": "user", "content": "question 1"},
        PREFILL,
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("style", STYLES)
async def test_a_system_prompt_is_sent_first_and_folded_for_a_model_that_takes_none(
    style, ws_for, alice, fake_upstream, chat_provider, responses_provider
):
    key = STYLES[style][2]
    plain = await _bodies(style, ws_for, alice, fake_upstream, system_prompt=PROMPT)
    assert plain[1][key] == [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": "question 0"},
        {"role": "assistant", "content": "answer 0"},
        {"role": "user", "content": "question 1"},
    ]
    folded = await _bodies(
        style, ws_for, alice, fake_upstream, system_prompt=PROMPT, no_system_prompt=True
    )
    for without, with_hint in zip(plain, folded, strict=True):
        # The system message is gone; the first user message starts with the prompt.
        assert without[key][0] == {"role": "system", "content": PROMPT}
        first = without[key][1]
        assert with_hint[key] == [
            {"role": "user", "content": f"{PROMPT}\n\n{first['content']}"},
            *without[key][2:],
        ]
        assert _rest(with_hint, key) == _rest(without, key)
        assert not any(m["role"] == "system" for m in with_hint[key])


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("style", STYLES)
async def test_no_system_prompt_without_a_prompt_changes_nothing(
    style, ws_for, alice, fake_upstream, chat_provider, responses_provider
):
    plain = await _bodies(style, ws_for, alice, fake_upstream)
    hinted = await _bodies(style, ws_for, alice, fake_upstream, no_system_prompt=True)
    assert hinted == plain


# --- the answer to a prefilled request ---------------------------------------------------


def test_after_the_prefill_the_reasoning_runs_to_the_closing_tag():
    parser = ThinkTagParser(prefilled=True)
    events = [*parser.feed("Let me"), *parser.feed(" think.\n</thi"), *parser.feed("nk>\n\nYes.")]
    events += parser.flush()
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert (reasoning, content) == ("Let me think.\n", "Yes.")


def test_a_provider_that_sends_reasoning_apart_keeps_its_answer_as_the_answer():
    parser = ThinkTagParser(prefilled=True)
    parser.reasoning_apart()  # a reasoning_content delta came first
    assert parser.feed("The answer.") + parser.flush() == [ContentDelta("The answer.")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_prefilled_answer_is_stored_as_reasoning_then_answer(
    ws_for, alice, conversation, fake_upstream, chat_provider
):
    """A provider that continues the prefill as text: no opening tag, then `</think>`."""
    await database_sync_to_async(_set_hints)("fake/fake-r1", think_prefix=True)
    fake_upstream.enqueue(
        chat_stream(
            reasoning=[], reasoning_field="think", content=["I weigh it.", "\n</think>\n\n", "Oui."]
        )
    )
    frames, turn = await run_turn(ws_for, alice, conversation, content="q", model="fake/fake-r1")
    assert frames[-1]["type"] == "turn.completed", frames[-1]
    assert (turn.reasoning_content.strip(), turn.content) == ("I weigh it.", "Oui.")
    assert fake_upstream.requests[-1].json["messages"][-1] == PREFILL


# --- the trace shows the context as sent ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_trace_context_is_the_request_as_sent(
    ws_for, alice, fake_upstream, chat_provider
):
    from conversations.review.traces import contexts

    bodies = await _bodies(
        "chat-completions",
        ws_for,
        alice,
        fake_upstream,
        system_prompt=PROMPT,
        no_system_prompt=True,
        think_prefix=True,
    )

    def traced() -> list[list[dict[str, str]]]:
        answers = Turn.objects.filter(conversation__owner=alice, role="assistant")
        found = contexts(answers.order_by("index"))
        return [
            [{"role": m.role, "content": m.content} for m in found[t.id]]
            for t in answers.order_by("index")
        ]

    assert await database_sync_to_async(traced)() == [b["messages"] for b in bodies]

    # The prompt and the hints may change afterwards: a trace still shows what was sent.
    def change() -> None:
        Conversation.objects.filter(owner=alice).update(system_prompt="Now in German.")
        _set_hints("fake/fake-r1")

    await database_sync_to_async(change)()
    assert await database_sync_to_async(traced)() == [b["messages"] for b in bodies]
