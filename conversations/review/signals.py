"""Reasoning-aware signals of an ended assistant turn, computed once when it ends.

`compute` is pure (texts in, figures out) and linear in the length of the texts;
`store` writes its result as the turn's `TraceSignals` row, in the caller's
transaction (conversations/actions.py `finish_turn` and `settle_claimed_turn`).
The list shows them as badges and filters on them (`signal=`, review/filters.py),
so a page view never scans reasoning.

- ratio: reasoning characters per answer character (None when the answer is empty).
- empty answer: reasoning of at least `LONG_REASONING` characters and a blank answer.
- cut: the turn stopped, failed or was interrupted while still reasoning (reasoning,
  no answer), or the upstream said it ran out of tokens (`finish_reason` "length").
- looping: the model repeating itself: a share of 8-word shingles seen before of at
  least `REPEAT_SHARE` (over at least `MIN_SHINGLES` of them), or one sentence of
  at least `MIN_SENTENCE` characters occurring `SENTENCE_REPEATS` times or more.
  Sentences split on . ! ? 。！？ and line breaks, so Chinese (no spaces, hence few
  "words") is caught by the sentence rule.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from django.utils import timezone

from conversations.review.models import TraceSignals

LONG_REASONING = 2000
SHINGLE = 8
MIN_SHINGLES = 50
REPEAT_SHARE = 0.3
MIN_SENTENCE = 16
SENTENCE_REPEATS = 3
CUT_STATUSES = frozenset({"stopped", "incomplete", "failed"})

_SENTENCE_END = re.compile(r"[.!?。！？\n]+")


@dataclass(frozen=True)
class Signals:
    reasoning_chars: int
    answer_chars: int
    ratio: float | None
    thinking_ms: int | None
    empty_answer: bool
    cut: bool
    looping: bool
    repeat_share: float  # share of the reasoning's 8-word shingles that repeat one before

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def compute(
    reasoning: str,
    content: str,
    status: str,
    timings: dict[str, Any] | None = None,
    finish_reason: str | None = None,
) -> Signals:
    reasoning_chars, answer_chars = len(reasoning), len(content)
    blank_answer = not content.strip()
    has_reasoning = bool(reasoning.strip())
    duration = (timings or {}).get("reasoning_duration")
    thinking_ms = int(duration) if isinstance(duration, int | float) and duration >= 0 else None
    share, sentence_loop = repetition(reasoning)
    return Signals(
        reasoning_chars=reasoning_chars,
        answer_chars=answer_chars,
        ratio=round(reasoning_chars / answer_chars, 2) if answer_chars else None,
        thinking_ms=thinking_ms,
        empty_answer=blank_answer and reasoning_chars >= LONG_REASONING,
        cut=finish_reason == "length"
        or (status in CUT_STATUSES and has_reasoning and blank_answer),
        looping=sentence_loop or share >= REPEAT_SHARE,
        repeat_share=round(share, 3),
    )


def repetition(text: str) -> tuple[float, bool]:
    """(share of repeated shingles, whether a sentence repeats), in one pass each.

    The share is 0 below `MIN_SHINGLES` shingles: a short text repeating a phrase
    is not a loop."""
    words = text.lower().split()
    total = len(words) - SHINGLE + 1
    share = 0.0
    if total >= MIN_SHINGLES:
        seen: set[int] = set()
        repeated = 0
        for i in range(total):
            key = hash(tuple(words[i : i + SHINGLE]))
            if key in seen:
                repeated += 1
            else:
                seen.add(key)
        share = repeated / total
    counts: Counter[str] = Counter()
    for raw in _SENTENCE_END.split(text):
        sentence = " ".join(raw.split()).lower()
        if len(sentence) >= MIN_SENTENCE:
            counts[sentence] += 1
            if counts[sentence] >= SENTENCE_REPEATS:
                return share, True
    return share, False


def store(
    turn_id: Any,
    *,
    status: str,
    reasoning: str,
    content: str,
    timings: dict[str, Any] | None,
    finish_reason: str | None = None,
    new: bool = False,
) -> Signals:
    """Compute and save (create or replace) the turn's signals. `new`: the turn has
    none yet (its final state is being saved), so one INSERT does."""
    found = compute(reasoning, content, status, timings, finish_reason)
    fields = {**found.fields(), "computed": timezone.now()}
    if new:
        TraceSignals.objects.bulk_create([TraceSignals(turn_id=turn_id, **fields)])
    else:
        TraceSignals.objects.update_or_create(turn_id=turn_id, defaults=fields)
    return found


def store_for(turn: Any) -> Signals:
    """`store` for a turn as it is stored (its text, status and timings)."""
    return store(
        turn.id,
        status=turn.status,
        reasoning=turn.reasoning_content,
        content=turn.content,
        timings=turn.timings,
    )
