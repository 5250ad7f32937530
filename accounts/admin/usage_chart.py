"""Usage over the last 30 days as plain SVG, drawn on the server (no script, no
inline style: the CSP forbids both; colours and sizes are SVG attributes).

Two charts: total tokens per day, stacked by team; and total tokens per team and
model over the period. `chart_context` gives the template shapes to draw, each
with its numbers, and the same numbers as rows for a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from accounts.usage import DailyUsage

DAYS = 30
# Distinguishable on white, in order (Okabe-Ito, without black and yellow).
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f7f7f"]
WIDTH, LEFT, RIGHT, TOP = 760, 80, 16, 12
DAY_HEIGHT = 220
ROW_HEIGHT, ROW_GAP, LABEL_WIDTH = 18, 6, 260


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"


def _n(value: int) -> str:
    return number_format(value, force_grouping=True)


def _team_label(name: str | None) -> str:
    return name if name is not None else gettext("No team")


def _model_labels(refs: set[str]) -> dict[str, str]:
    """Each model's display name, as the picker shows it, by its reference; a model
    without one (or deleted since) keeps its reference. The model is named by its
    app label: accounts imports providers only in access.py."""
    chat_model = apps.get_model("providers", "ChatModel")
    rows = chat_model.objects.exclude(display_name="").values_list(
        "provider__name", "model_id", "display_name"
    )
    labels = {f"{provider}/{model_id}": name for provider, model_id, name in rows}
    return {ref: labels.get(ref, ref) for ref in refs}


def chart_context(today: date | None = None) -> dict[str, Any]:
    today = today or timezone.now().astimezone(UTC).date()
    start = today - timedelta(days=DAYS - 1)
    rows = DailyUsage.objects.filter(day__gte=start, day__lte=today)
    per_day: list[dict[str, Any]] = [
        dict(r)
        for r in rows.values("day", "team__name")
        .annotate(total=Sum("total_tokens"))
        .order_by("day", "team__name")
    ]
    per_model: list[dict[str, Any]] = [
        dict(r)
        for r in rows.values("team__name", "model")
        .annotate(total=Sum("total_tokens"), turns=Sum("turns"))
        .order_by("team__name", "model")
    ]
    labels = _model_labels({r["model"] for r in per_model})
    for r in per_model:
        r["model"] = labels[r["model"]]
    teams = sorted({r["team__name"] for r in per_day}, key=lambda t: (t is None, t or ""))
    colours = {team: PALETTE[i % len(PALETTE)] for i, team in enumerate(teams)}
    days = [start + timedelta(days=i) for i in range(DAYS)]
    return {
        "start": start,
        "today": today,
        "legend": [{"label": _team_label(t), "fill": colours[t]} for t in teams],
        "daily": _daily(days, per_day, colours),
        "models": _by_model(per_model, colours),
        "table": [
            {
                "team": _team_label(r["team__name"]),
                "model": r["model"],
                "total": _n(r["total"] or 0),
                "turns": _n(r["turns"] or 0),
            }
            for r in per_model
        ],
        "width": WIDTH,
    }


def _daily(days: list[date], per_day: list[dict[str, Any]], colours: dict[Any, str]) -> Any:
    totals: dict[date, int] = {}
    for r in per_day:
        totals[r["day"]] = totals.get(r["day"], 0) + (r["total"] or 0)
    top = max(totals.values(), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, DAY_HEIGHT
    step = plot_w / len(days)
    index = {d: i for i, d in enumerate(days)}
    bars: list[Bar] = []
    stacked: dict[date, float] = {}
    for r in per_day:
        value = r["total"] or 0
        if not value:
            continue
        h = value / top * plot_h
        base = stacked.get(r["day"], 0.0)
        stacked[r["day"]] = base + h
        title = f"{r['day'].isoformat()} · {_team_label(r['team__name'])}: {_n(value)}"
        bars.append(
            Bar(
                x=round(LEFT + index[r["day"]] * step + 1, 1),
                y=round(TOP + plot_h - base - h, 1),
                width=round(step - 2, 1),
                height=round(max(h, 0.5), 1),
                fill=colours[r["team__name"]],
                title=title,
            )
        )
    labels = [
        Text(LEFT - 6, round(TOP + plot_h - f * plot_h + 4, 1), _n(round(top * f)), "end")
        for f in (0, 0.5, 1)
    ]
    labels += [
        Text(round(LEFT + i * step + step / 2, 1), TOP + plot_h + 16, d.strftime("%m-%d"), "middle")
        for i, d in enumerate(days)
        if i % 5 == 0 or i == len(days) - 1
    ]
    return {
        "bars": bars,
        "labels": labels,
        "height": TOP + plot_h + 24,
        "axis_y": TOP + plot_h,
        "axis_x1": LEFT,
        "axis_x2": WIDTH - RIGHT,
        "empty": not totals,
    }


def _by_model(per_model: list[dict[str, Any]], colours: dict[Any, str]) -> Any:
    top = max((r["total"] or 0 for r in per_model), default=0) or 1
    plot_w = WIDTH - LABEL_WIDTH - RIGHT - 90  # room for the value after the bar
    bars: list[Bar] = []
    labels: list[Text] = []
    for i, r in enumerate(per_model):
        value = r["total"] or 0
        y = TOP + i * (ROW_HEIGHT + ROW_GAP)
        label = f"{_team_label(r['team__name'])} · {r['model']}"
        w = value / top * plot_w
        bars.append(
            Bar(
                x=LABEL_WIDTH,
                y=y,
                width=round(max(w, 0.5), 1),
                height=ROW_HEIGHT,
                fill=colours.get(r["team__name"], PALETTE[-1]),
                title=f"{label}: {_n(value)}",
            )
        )
        labels.append(Text(LABEL_WIDTH - 8, y + 13, _short(label), "end"))
        labels.append(Text(round(LABEL_WIDTH + w + 6, 1), y + 13, _n(value)))
    return {
        "bars": bars,
        "labels": labels,
        "height": TOP + len(per_model) * (ROW_HEIGHT + ROW_GAP) + TOP,
        "empty": not per_model,
    }


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
