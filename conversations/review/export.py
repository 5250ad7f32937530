"""Traces as JSONL or Markdown, one turn at a time, in bounded memory.

Shared by `GET /review/export.jsonl` and `manage.py export_traces`. The turns are
read by keyset chunks (each chunk one query, the list's own order and index; no
cursor held open across a slow client); each chunk's contexts and reviews are read
in one query apiece (conversations/review/traces.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from conversations.errors import public_error
from conversations.export import _fence
from conversations.models import Turn
from conversations.review import sorting, traces

CHUNK = 200
FIELDS = (
    "turn",
    "conversation",
    "user",
    "model",
    "created",
    "status",
    "messages",
    "reasoning_content",
    "content",
    "usage",
    "timings",
    "error",
    "references",
    "rating",
    "tags",
    "notes",
)


def chunks(
    turns: QuerySet[Turn], size: int = 0, sort: sorting.Sort | None = None
) -> Iterator[list[Turn]]:
    size, order, after = size or CHUNK, sort or sorting.get(None), None
    # Not `signals` too: a turn and its cached signals point at each other, a cycle
    # only the garbage collector frees, so each chunk's texts outlived it (10,000
    # turns: 82 MB at the peak instead of 14). A keyed order's cursor reads the last
    # row's signals: one query a chunk.
    turns = turns.select_related("conversation__owner")
    while True:
        rows = sorting.walk(turns, order, after, size)
        if not rows:
            return
        yield rows
        after = sorting.position(rows[-1], order)


def records(
    turns: QuerySet[Turn], *, staff: bool, sort: sorting.Sort | None = None
) -> Iterator[dict[str, Any]]:
    """One dict per turn with exactly FIELDS, in `sort`'s order (the list's; newest
    first by default). `staff`: the reader may see an error's technical `detail` (as
    in the JSON API)."""
    for rows in chunks(turns, sort=sort):
        contexts = traces.contexts(rows)
        reviews = traces.reviews(rows)
        for turn in rows:
            yield {
                "turn": str(turn.id),
                "conversation": str(turn.conversation_id),
                "user": turn.conversation.owner.get_username(),
                "model": turn.model,
                "created": turn.created.isoformat(),
                "status": turn.status,
                "messages": [{"role": m.role, "content": m.content} for m in contexts[turn.id]],
                "reasoning_content": turn.reasoning_content,
                "content": turn.content,
                "usage": turn.usage,
                "timings": turn.timings,
                "error": public_error(turn.error, staff=staff),
                "references": turn.references,  # a web-search bot's sources, or null
                **traces.summary(reviews.get(turn.id, [])),
            }


def jsonl_lines(
    turns: QuerySet[Turn], *, staff: bool, sort: sorting.Sort | None = None
) -> Iterator[str]:
    for record in records(turns, staff=staff, sort=sort):
        yield json.dumps(record, ensure_ascii=False) + "\n"


def markdown_lines(
    turns: QuerySet[Turn], *, staff: bool, sort: sorting.Sort | None = None
) -> Iterator[str]:
    """One section per turn: who, model and when; the context; reasoning; answer; reviews."""
    for r in records(turns, staff=staff, sort=sort):
        out = [f"## {r['model'] or _('Unknown model')} · {r['user']} · {r['created']}", ""]
        out += [f"- turn: `{r['turn']}`", f"- {_('Status')}: {traces.status_label(r['status'])}"]
        if r["usage"]:
            out.append("- " + _("Tokens") + ": " + _usage_line(r["usage"]))
        if r["timings"]:
            out.append("- " + _("Times") + ": " + _timings_line(r["timings"]))
        if r["error"]:
            out.append(f"- error: `{json.dumps(r['error'], ensure_ascii=False)}`")
        if r["tags"]:
            out.append(f"- {_('Tags')}: {', '.join(r['tags'])}")
        out.append("")
        out += [f"### {_('Context sent upstream')}", ""]
        for m in r["messages"]:
            fence = _fence(m["content"])
            out += [
                f"**{traces.role_label(m['role'])}**",
                "",
                f"{fence}text",
                m["content"],
                fence,
                "",
            ]
        for title, text in ((_("Reasoning"), r["reasoning_content"]), (_("Answer"), r["content"])):
            fence = _fence(text)
            out += [f"### {title}", "", f"{fence}text", text, fence, ""]
        for note in r["notes"]:
            verdict = " ".join(str(v) for v in (note["rating"], note["score"]) if v)
            text = " ".join(note["note"].split())
            out += [f"> **{note['reviewer']}** {verdict} {text}".rstrip(), ""]
        yield "\n".join(out) + "\n"


def _usage_line(usage: dict[str, Any]) -> str:
    """Usage as a reader says it: prompt, reasoning, answer and total tokens, each
    only when known."""
    parts = [
        (_("prompt"), usage.get("prompt_tokens")),
        (_("reasoning"), usage.get("reasoning_tokens")),
        (_("answer"), traces.answer_tokens(usage)),
        (_("total"), usage.get("total_tokens")),
    ]
    return " · ".join(f"{label} {value}" for label, value in parts if value is not None) or "–"


def _timings_line(timings: dict[str, Any]) -> str:
    """Timings in seconds: first reasoning token, thinking, first answer token, total."""
    parts = [
        (_("first reasoning token"), timings.get("reasoning_first_token")),
        (_("thinking"), timings.get("reasoning_duration")),
        (_("first answer token"), timings.get("content_first_token")),
        (_("total"), timings.get("total")),
    ]
    return (
        " · ".join(
            f"{label} {round(ms / 1000, 1)} s"
            for label, ms in parts
            if isinstance(ms, int | float) and not isinstance(ms, bool)
        )
        or "–"
    )
