"""A review queue: the list's filtered, sorted set, worked through one trace at a time.

The queue has no row of its own: it is the list's parameters (filters and `sort`),
carried in the URL, so a queue can be shared and survives a reload. Its set is
`TraceFilters.apply(visible_turns(person))` in the list's order; what a person has
done is "has a `Review` of the turn", theirs only (a skipped trace stays to do).

- `/review/queue/?<list parameters>` opens the first trace the person has not
  reviewed; `&from=<turn id>` the first one after that turn, wrapping round to the
  start; none left: a page that says so (or that the set is empty).
- A trace page with `?<list parameters>&queue=1` shows the queue bar (progress,
  previous, next, skip) and, once a review is saved, goes on to the next to do.

Progress counts stop at COUNT_CAP ("1,000+"): a count is a scan, and a queue of
100,000 turns needs no exact figure to be worked through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from conversations.models import Turn
from conversations.review import sorting
from conversations.review.models import Review

COUNT_CAP = 1000


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    capped: bool  # more than COUNT_CAP in the set (and `total` is the cap)

    @property
    def left(self) -> int:
        return max(self.total - self.done, 0)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def _reviewed_by(user: Any) -> Exists:
    return Exists(Review.objects.filter(turn=OuterRef("pk"), reviewer=user))


def progress(turns: QuerySet[Turn], user: Any) -> Progress:
    """How many the set holds and how many of them the person has reviewed, each
    counted up to COUNT_CAP (+1, to know that there are more)."""
    plain = turns.order_by()
    total = plain[: COUNT_CAP + 1].count()
    done = plain.filter(_reviewed_by(user))[: COUNT_CAP + 1].count()
    capped = total > COUNT_CAP
    return Progress(min(total, COUNT_CAP), min(done, COUNT_CAP), capped)


def next_to_do(
    turns: QuerySet[Turn], sort: sorting.Sort, user: Any, after: Turn | None = None
) -> Turn | None:
    """The first trace the person has not reviewed after `after` (from the start when
    None), wrapping round to the start."""
    todo = turns.exclude(_reviewed_by(user)).select_related("signals")
    if after is not None:
        found = sorting.walk(todo, sort, sorting.position(after, sort), 1)
        if found:
            return found[0]
    found = sorting.walk(todo, sort, None, 1)
    return found[0] if found else None


def neighbours(
    turns: QuerySet[Turn], sort: sorting.Sort, turn: Turn
) -> tuple[Turn | None, Turn | None]:
    """The traces just before and just after `turn` in the queue's order (whether the
    turn itself is still in the set or not: a saved rating may move it out)."""
    at = sorting.position(turn, sort)
    turns = turns.select_related("signals")
    before = sorting.walk(turns, sort, at, 1, backward=True)
    after = sorting.walk(turns, sort, at, 1)
    return (before[0] if before else None, after[0] if after else None)
