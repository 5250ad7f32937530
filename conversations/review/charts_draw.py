"""The review charts' shapes, as plain SVG drawn on the server (the approach of
providers/usage_chart.py: no script, no inline style; colours and sizes are SVG
presentation attributes). Each chart comes with the same numbers as table rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.admin.usage_chart import Bar, Text
from conversations.review.charts import ChartData, ModelStats, RatingPeriod, period_starts

# At most this many models are drawn (the most traced first); the tables list all.
MAX_MODELS = 12
REASONING, ANSWER = "#0072b2", "#e69f00"  # Okabe-Ito, as the admin's usage chart
GOOD, BAD, SCORE = "#009e73", "#d55e00", "#cc79a7"
WIDTH, LABEL_WIDTH, RIGHT, TOP = 760, 230, 16, 10
TOKEN_BAR, TOKEN_GAP, MODEL_GAP = 13, 2, 12
HIST_WIDTH, HIST_HEIGHT, HIST_LEFT, HIST_BOTTOM = 360, 110, 8, 34
RATING_HEIGHT, RATING_LEFT, RATING_RIGHT, RATING_BOTTOM = 120, 44, 36, 22


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    title: str


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return number_format(round(value, digits), decimal_pos=digits, force_grouping=True)


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"


def model_label(model: str) -> str:
    return model or _("(no model)")


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bucket_labels() -> list[str]:
    return [
        _("<5 s"),
        _("5–15 s"),
        _("15–30 s"),
        _("30–60 s"),
        _("1–2 min"),
        _("2–5 min"),
        _("≥5 min"),
    ]


def chart_context(data: ChartData) -> dict[str, Any]:
    drawn = data.models[:MAX_MODELS]
    return {
        "traces": data.traces,
        "model_count": len(data.models),
        "hidden_models": len(data.models) - len(drawn),
        "width": WIDTH,
        "colours": {
            "reasoning": REASONING,
            "answer": ANSWER,
            "good": GOOD,
            "bad": BAD,
            "score": SCORE,
        },
        "tokens": _tokens(drawn),
        "token_rows": [_token_row(m) for m in data.models],
        "bucket_labels": bucket_labels(),
        "histograms": [_histogram(m) for m in drawn if m.with_thinking],
        "thinking_rows": [_thinking_row(m) for m in data.models],
        "period": data.period,
        "ratings": _ratings(data.ratings, {m.model for m in drawn}, data.period),
        "rating_rows": [_rating_row(r, data.period) for r in data.ratings],
    }


# --- reasoning against answer tokens ----------------------------------------------


def _tokens(models: list[ModelStats]) -> dict[str, Any]:
    measured = [m for m in models if m.with_tokens]
    top = max((max(m.mean_reasoning or 0, m.mean_answer or 0) for m in measured), default=0) or 1
    plot_w = WIDTH - LABEL_WIDTH - RIGHT - 70  # room for the value after the bar
    bars: list[Bar] = []
    labels: list[Text] = []
    y = TOP
    for m in measured:
        name = model_label(m.model)
        labels.append(Text(LABEL_WIDTH - 8, y + TOKEN_BAR + 4, _short(name), "end"))
        for value, fill, what in (
            (m.mean_reasoning or 0, REASONING, _("mean reasoning tokens")),
            (m.mean_answer or 0, ANSWER, _("mean answer tokens")),
        ):
            w = max(value / top * plot_w, 0.5)
            bars.append(
                Bar(LABEL_WIDTH, y, round(w, 1), TOKEN_BAR, fill, f"{name}: {what} {_n(value)}")
            )
            labels.append(Text(round(LABEL_WIDTH + w + 5, 1), y + TOKEN_BAR - 2, _n(value)))
            y += TOKEN_BAR + TOKEN_GAP
        y += MODEL_GAP
    return {"bars": bars, "labels": labels, "height": y + TOP, "empty": not measured}


def _token_row(m: ModelStats) -> dict[str, Any]:
    return {
        "model": model_label(m.model),
        "traces": _n(m.traces),
        "with_tokens": _n(m.with_tokens),
        "mean_reasoning": _n(m.mean_reasoning),
        "mean_answer": _n(m.mean_answer),
        "share": _percent(m.reasoning_sum, m.completion_sum),
    }


# --- thinking-time distribution ----------------------------------------------------


def _histogram(m: ModelStats) -> dict[str, Any]:
    """One small chart per model, scaled to its own largest bucket: the shape is
    what compares; each bar says its count and share."""
    labels_text = bucket_labels()
    top = max(m.buckets) or 1
    step = (HIST_WIDTH - 2 * HIST_LEFT) / len(m.buckets)
    bars: list[Bar] = []
    labels: list[Text] = []
    for i, count in enumerate(m.buckets):
        h = count / top * HIST_HEIGHT
        x = HIST_LEFT + i * step
        centre = round(x + step / 2, 1)
        share = _percent(count, m.with_thinking)
        title = f"{labels_text[i]}: {_n(count)} ({share})"
        if count:
            bars.append(
                Bar(
                    round(x + 3, 1),
                    round(TOP + 14 + HIST_HEIGHT - h, 1),
                    round(step - 6, 1),
                    round(max(h, 0.5), 1),
                    REASONING,
                    title,
                )
            )
        labels.append(Text(centre, round(TOP + 10 + HIST_HEIGHT - h, 1), _n(count), "middle"))
        labels.append(Text(centre, TOP + 14 + HIST_HEIGHT + 14, labels_text[i], "middle"))
    return {
        "model": model_label(m.model),
        "with_thinking": m.with_thinking,
        "no_thinking": m.no_thinking,
        "bars": bars,
        "labels": labels,
        "width": HIST_WIDTH,
        "height": TOP + 14 + HIST_HEIGHT + HIST_BOTTOM,
        "axis_y": TOP + 14 + HIST_HEIGHT,
        "axis_x2": HIST_WIDTH - HIST_LEFT,
        "axis_x1": HIST_LEFT,
    }


def _thinking_row(m: ModelStats) -> dict[str, Any]:
    return {
        "model": model_label(m.model),
        "buckets": [_n(c) for c in m.buckets],
        "none": _n(m.no_thinking),
    }


# --- ratings over time -------------------------------------------------------------


def _ratings(ratings: list[RatingPeriod], drawn: set[str], period: str) -> dict[str, Any]:
    """One panel per model on a shared time axis: good (below) and bad (above) stacked
    per period on the left scale, the mean score (1–5) as a line on the right."""
    if not ratings:
        return {"panels": [], "empty": True}
    starts = period_starts(min(r.start for r in ratings), max(r.start for r in ratings), period)
    index = {d: i for i, d in enumerate(starts)}
    top = max(r.good + r.bad for r in ratings) or 1
    plot_w = WIDTH - RATING_LEFT - RATING_RIGHT
    step = plot_w / len(starts)
    base = TOP + RATING_HEIGHT
    every = max(1, round(len(starts) / 8))
    axis_labels = [
        Text(
            round(RATING_LEFT + i * step + step / 2, 1), base + 16, _date_label(d, period), "middle"
        )
        for i, d in enumerate(starts)
        if i % every == 0
    ]
    axis_labels += [
        Text(RATING_LEFT - 6, base + 4, "0", "end"),
        Text(RATING_LEFT - 6, TOP + 4, _n(top), "end"),
        Text(WIDTH - RATING_RIGHT + 6, base + 4, "1"),
        Text(WIDTH - RATING_RIGHT + 6, TOP + 4, "5"),
    ]
    panels = []
    models = sorted({r.model for r in ratings if r.model in drawn})
    for model in models:
        bars: list[Bar] = []
        dots: list[Dot] = []
        for r in (r for r in ratings if r.model == model):
            x = RATING_LEFT + index[r.start] * step
            when = _date_label(r.start, period)
            good_h = r.good / top * RATING_HEIGHT
            bad_h = r.bad / top * RATING_HEIGHT
            width = round(max(step - 2, 1), 1)
            if r.good:
                title = _("%(period)s: %(count)s good") % {"period": when, "count": r.good}
                bars.append(
                    Bar(
                        round(x + 1, 1),
                        round(base - good_h, 1),
                        width,
                        round(good_h, 1),
                        GOOD,
                        title,
                    )
                )
            if r.bad:
                title = _("%(period)s: %(count)s bad") % {"period": when, "count": r.bad}
                y = base - good_h - bad_h
                bars.append(Bar(round(x + 1, 1), round(y, 1), width, round(bad_h, 1), BAD, title))
            if r.mean_score is not None:
                cy = base - (r.mean_score - 1) / 4 * RATING_HEIGHT
                title = _("%(period)s: mean score %(score)s") % {
                    "period": when,
                    "score": _n(r.mean_score, 1),
                }
                dots.append(Dot(round(x + step / 2, 1), round(cy, 1), title))
        panels.append(
            {
                "model": model_label(model),
                "bars": bars,
                "dots": dots,
                "line": " ".join(f"{d.cx},{d.cy}" for d in dots),
            }
        )
    return {
        "panels": panels,
        "labels": axis_labels,
        "height": base + RATING_BOTTOM,
        "axis_y": base,
        "axis_top": TOP,
        "axis_x1": RATING_LEFT,
        "axis_x2": WIDTH - RATING_RIGHT,
        "empty": not panels,
    }


def _date_label(day: date, period: str) -> str:
    return day.strftime("%Y-%m") if period == "month" else day.isoformat()


def _rating_row(r: RatingPeriod, period: str) -> dict[str, Any]:
    return {
        "model": model_label(r.model),
        "period": _date_label(r.start, period),
        "good": r.good,
        "bad": r.bad,
        "reviews": r.reviews,
        "score": _n(r.mean_score, 1),
    }
