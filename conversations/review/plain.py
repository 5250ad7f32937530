"""The start of a text as plain text, for the trace list's previews.

Markdown is stripped simply (markers, not a parse): a preview is a hint of what the
answer says, and the trace page renders the real thing. Only the head of the text is
read, so a 20 KB reasoning costs what a short one does, and only once the page's
turns are chosen: read in the query that chooses them, the heads were computed for
every candidate the plan sorted (a team's 4,800 turns: 110 of its 130 ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db.models.functions import Left

from conversations.models import Turn

PREVIEW_CHARS = 160
# Enough head to fill a preview after markers and link targets are dropped.
HEAD_CHARS = PREVIEW_CHARS * 4

_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LINE_MARKERS = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_RULE = re.compile(r"^\s*([-*_]\s*){3,}$", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|~~|`+)")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_TABLE = re.compile(r"\s*\|\s*")


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """`text`'s start without Markdown markers, on one line, at most `limit`
    characters (an ellipsis marks a cut)."""
    head = text[:HEAD_CHARS]
    for pattern, repl in (
        (_FENCE, " "),
        (_IMAGE, r"\1"),
        (_LINK, r"\1"),
        (_RULE, " "),
        (_LINE_MARKERS, ""),
        (_TAG, ""),
        (_EMPHASIS, ""),
        (_TABLE, " "),
    ):
        head = pattern.sub(repl, head)
    flat = " ".join(head.split())
    if len(flat) > limit or (len(text) > HEAD_CHARS and flat):
        return flat[: limit - 1].rstrip() + "…"
    return flat


def heads(turns: Iterable[Turn]) -> dict[Any, tuple[str, str, str]]:
    """Turn id -> the heads of its answer, its reasoning and the person's message it
    answers (its parent user turn), in one query for a page."""
    rows = (
        Turn.objects.filter(pk__in=[t.pk for t in turns])
        .annotate(
            answer_head=Left("content", HEAD_CHARS + 1),
            reasoning_head=Left("reasoning_content", HEAD_CHARS + 1),
            question_head=Left("parent__content", HEAD_CHARS + 1),
        )
        .values_list("pk", "answer_head", "reasoning_head", "question_head")
    )
    return {pk: (a or "", r or "", q or "") for pk, a, r, q in rows}
