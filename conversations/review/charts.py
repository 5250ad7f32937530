"""The numbers behind `/review/charts/`: per model, reasoning against answer tokens,
the thinking-time distribution, and ratings over time.

Everything is aggregated in the database, in two queries whatever the number of
turns, models or buckets: one GROUP BY model over the filtered turns (token means and
sums, one conditional COUNT per thinking-time bucket, the first and last date), and
one GROUP BY model and period over the reviews of those turns. No row is loaded.
Means, not medians: a median has no portable aggregate (SQLite has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Trunc
from django.utils import timezone

from conversations.models import Turn
from conversations.review.models import Review

# Thinking time (`timings.reasoning_duration`, ms): each bucket is [low, high).
BUCKET_EDGES_MS = (5_000, 15_000, 30_000, 60_000, 120_000, 300_000)
# Ratings are grouped per day over a short span, per week up to two years, else per
# month: at most about a hundred periods a model, however long the history.
DAY_SPAN, WEEK_SPAN = timedelta(days=62), timedelta(days=731)


@dataclass
class ModelStats:
    model: str
    traces: int
    with_tokens: int  # turns whose usage has completion tokens
    mean_reasoning: float | None
    mean_answer: float | None
    reasoning_sum: int
    completion_sum: int
    buckets: list[int]  # one count per thinking-time bucket, len(BUCKET_EDGES_MS) + 1
    no_thinking: int  # turns with no thinking time recorded

    @property
    def with_thinking(self) -> int:
        return sum(self.buckets)

    @property
    def reasoning_share(self) -> float | None:
        """Reasoning tokens as a part of all completion tokens."""
        return self.reasoning_sum / self.completion_sum if self.completion_sum else None


@dataclass
class RatingPeriod:
    model: str
    start: date
    good: int
    bad: int
    reviews: int
    mean_score: float | None


@dataclass
class ChartData:
    models: list[ModelStats] = field(default_factory=list)
    ratings: list[RatingPeriod] = field(default_factory=list)
    period: str = "week"  # "day", "week" or "month"

    @property
    def traces(self) -> int:
        return sum(m.traces for m in self.models)


def _number(key: str) -> Cast:
    """A number kept in a JSON column, as a float (NULL when the key is missing)."""
    return Cast(KT(key), FloatField())


def chart_data(turns: QuerySet[Turn]) -> ChartData:
    """The charts' numbers for these turns (already scoped to the person and filtered)."""
    has_tokens = Q(completion__isnull=False)
    # Each JSON value is read as few times as possible a row (the scan is the cost):
    # means come from sums and counts, buckets from counts below each edge.
    below = {
        f"below_{i}": Count("thinking", filter=Q(thinking__lt=edge))
        for i, edge in enumerate(BUCKET_EDGES_MS)
    }
    rows = (
        turns.order_by()
        .alias(
            reasoning=Coalesce(_number("usage__reasoning_tokens"), Value(0.0)),
            completion=_number("usage__completion_tokens"),
            thinking=_number("timings__reasoning_duration"),
        )
        .values("model")
        .annotate(
            traces=Count("pk"),
            with_tokens=Count("completion"),
            reasoning_sum=Sum("reasoning", filter=has_tokens),
            completion_sum=Sum("completion"),
            with_thinking=Count("thinking"),
            first=Min("created"),
            last=Max("created"),
            **below,
        )
    )
    models, first, last = [], None, None
    for values in rows:
        row: dict[str, Any] = dict(values)
        counted = row["with_tokens"]
        reasoning, completion = row["reasoning_sum"] or 0, row["completion_sum"] or 0
        cumulative = [row[name] for name in below] + [row["with_thinking"]]
        models.append(
            ModelStats(
                model=row["model"],
                traces=row["traces"],
                with_tokens=counted,
                mean_reasoning=reasoning / counted if counted else None,
                mean_answer=(completion - reasoning) / counted if counted else None,
                reasoning_sum=int(reasoning),
                completion_sum=int(completion),
                buckets=[b - a for a, b in zip([0, *cumulative], cumulative, strict=False)],
                no_thinking=row["traces"] - row["with_thinking"],
            )
        )
        first = row["first"] if first is None else min(first, row["first"])
        last = row["last"] if last is None else max(last, row["last"])
    models.sort(key=lambda m: (-m.traces, m.model))
    data = ChartData(models=models)
    if first is not None and last is not None:
        data.period = _period(last - first)
        data.ratings = _ratings(turns, data.period)
    return data


def _period(span: timedelta) -> str:
    if span <= DAY_SPAN:
        return "day"
    return "week" if span <= WEEK_SPAN else "month"


def _ratings(turns: QuerySet[Turn], period: str) -> list[RatingPeriod]:
    """Good and bad verdicts and the mean score per model and period of the turn's
    date (the filters' `since`/`until` speak of turns, so the axis does too)."""
    rows = (
        Review.objects.filter(turn__in=turns.order_by().values("pk"))
        .annotate(
            period=Trunc(
                "turn__created",
                period,
                output_field=DateTimeField(),
                tzinfo=timezone.get_current_timezone(),
            )
        )
        .values("turn__model", "period")
        .annotate(
            good=Count("pk", filter=Q(rating=Review.Rating.GOOD)),
            bad=Count("pk", filter=Q(rating=Review.Rating.BAD)),
            reviews=Count("pk"),
            mean_score=Avg("score"),
        )
        .order_by("turn__model", "period")
    )
    return [
        RatingPeriod(
            model=row["turn__model"],
            start=_day(row["period"]),
            good=row["good"],
            bad=row["bad"],
            reviews=row["reviews"],
            mean_score=row["mean_score"],
        )
        for row in rows
    ]


def _day(moment: Any) -> date:
    if isinstance(moment, datetime):
        return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()
    return moment  # type: ignore[no-any-return]


def period_starts(first: date, last: date, period: str) -> list[date]:
    """Every period from the one holding `first` to the one holding `last`, so the
    time axis has no holes where nobody rated."""
    starts, current = [], first
    while current <= last:
        starts.append(current)
        if period == "day":
            current += timedelta(days=1)
        elif period == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts
