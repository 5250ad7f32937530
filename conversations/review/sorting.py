"""The trace list's orders (`sort=`) and their keyset walks, forwards and backwards.

`newest` (the default) and `oldest` walk the turns by (`created`, `id`): the partial
index `turn_assistant_recent`, read forwards or backwards. The others order by a
stored `TraceSignals` number, the turn id breaking ties, each served by an index on
(number, turn) of migration 0008:

- `longest_reasoning` / `shortest_reasoning`: `reasoning_chars`;
- `longest_thinking` / `shortest_thinking`: `thinking_ms` (null without reasoning);
- `highest_ratio` / `lowest_ratio`: `ratio`, reasoning per answer character (null
  when the answer is empty).

A turn without that number (no signals yet: still running, or from before they
existed; or a null) comes after every turn with one, newest first, whichever the
direction. So a signal order is two walks, each an index scan with a LIMIT: the
turns with a number (an inner join to the signals, ordered by the number), then
the rest (the newest-first index, the signals as an anti-join). A nullable column
in one ORDER BY would need a LEFT JOIN that no index can order.

A cursor is base64url of `<phase>|<value>|<turn id>`: phase `k` carries the number,
phase `n` (and the date orders) the row's `created`, in the form `<created>|<turn
id>` without a phase, which the list's links have always carried.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversations.models import Turn

DEFAULT = "newest"


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Sort:
    name: str
    label: Any  # a lazy translation
    key: str | None  # a TraceSignals field, None for the date orders
    descending: bool
    number: type = int


SORTS: dict[str, Sort] = {
    s.name: s
    for s in (
        Sort("newest", gettext_lazy("Newest first"), None, True),
        Sort("oldest", gettext_lazy("Oldest first"), None, False),
        Sort(
            "longest_reasoning",
            gettext_lazy("Longest reasoning (characters)"),
            "reasoning_chars",
            True,
        ),
        Sort(
            "shortest_reasoning",
            gettext_lazy("Shortest reasoning (characters)"),
            "reasoning_chars",
            False,
        ),
        Sort("longest_thinking", gettext_lazy("Longest thinking"), "thinking_ms", True),
        Sort("shortest_thinking", gettext_lazy("Shortest thinking"), "thinking_ms", False),
        Sort("highest_ratio", gettext_lazy("Most reasoning per answer"), "ratio", True, float),
        Sort("lowest_ratio", gettext_lazy("Least reasoning per answer"), "ratio", False, float),
    )
}


def get(name: str | None) -> Sort:
    """The named order; ValueError for an unknown name."""
    if not name:
        return SORTS[DEFAULT]
    try:
        return SORTS[name]
    except KeyError:
        raise ValueError(name) from None


# --- cursors --------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a row stands in an order: phase `k` (has the number) or `n` (dates)."""

    phase: str
    value: Any  # the number, or `created`
    turn_id: uuid.UUID


def position(turn: Turn, sort: Sort) -> Position:
    if sort.key is not None:
        signals = getattr(turn, "signals", None)
        value = getattr(signals, sort.key, None) if signals is not None else None
        if value is not None:
            return Position("k", value, turn.id)
    return Position("n", turn.created, turn.id)


def encode(pos: Position) -> str:
    if pos.phase == "k":
        raw = f"k|{pos.value!r}|{pos.turn_id}"
    else:
        raw = f"{pos.value.isoformat()}|{pos.turn_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, sort: Sort) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split("|")
        if len(parts) == 3 and parts[0] == "k" and sort.key is not None:
            return Position("k", sort.number(parts[1]), uuid.UUID(parts[2]))
        created, turn_id = parts
        return Position("n", datetime.fromisoformat(created), uuid.UUID(turn_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(_("That page link is not valid.")) from None


# --- walks ----------------------------------------------------------------------


def _dated(turns: QuerySet[Turn], descending: bool, pos: Position | None) -> QuerySet[Turn]:
    """By (created, id): the index turn_assistant_recent, either way."""
    if pos is not None:
        if descending:
            turns = turns.filter(
                Q(created__lt=pos.value) | Q(created=pos.value, id__lt=pos.turn_id)
            )
        else:
            turns = turns.filter(
                Q(created__gt=pos.value) | Q(created=pos.value, id__gt=pos.turn_id)
            )
    sign = "-" if descending else ""
    return turns.order_by(f"{sign}created", f"{sign}id")


def _numbered(
    turns: QuerySet[Turn], key: str, descending: bool, pos: Position | None
) -> QuerySet[Turn]:
    """Turns with the number, by (number, turn): an inner join walking the signals'
    index on (number, turn). Both columns named on the signals' side so the
    planner sees the index's own order."""
    field, turn = f"signals__{key}", "signals__turn_id"
    turns = turns.filter(**{f"{field}__isnull": False})
    if pos is not None:
        op = "lt" if descending else "gt"
        turns = turns.filter(
            Q(**{f"{field}__{op}": pos.value})
            | Q(**{field: pos.value, f"{turn}__{op}": pos.turn_id})
        )
    sign = "-" if descending else ""
    return turns.order_by(f"{sign}{field}", f"{sign}{turn}")


def _unnumbered(turns: QuerySet[Turn], key: str) -> QuerySet[Turn]:
    return turns.exclude(**{f"signals__{key}__isnull": False})


def walk(
    turns: QuerySet[Turn],
    sort: Sort,
    after: Position | None,
    limit: int,
    *,
    backward: bool = False,
) -> list[Turn]:
    """Up to `limit` rows past `after` (exclusive; None: from the start), in the
    order, or against it when `backward`: at most two LIMIT queries."""
    if sort.key is None:
        return list(_dated(turns, sort.descending != backward, after)[:limit])
    key = sort.key
    # Forwards the numbered phase comes first, then the rest newest first; backwards
    # the rest oldest first, then the numbered phase reversed.
    phases: list[tuple[str, Any]] = [
        ("k", lambda p: _numbered(turns, key, sort.descending, p)),
        ("n", lambda p: _dated(_unnumbered(turns, key), True, p)),
    ]
    if backward:
        phases = [
            ("n", lambda p: _dated(_unnumbered(turns, key), False, p)),
            ("k", lambda p: _numbered(turns, key, not sort.descending, p)),
        ]
    rows: list[Turn] = []
    started = after is None
    for phase, query in phases:
        if not started and after is not None and after.phase != phase:
            continue  # a phase the cursor has already left behind
        pos = after if not started else None
        started = True
        rows += list(query(pos)[: limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows
