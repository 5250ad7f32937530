"""`/review/charts/`: the charts per model over the list's filtered set.

It reads the list's parameters with the list's own parser (`TraceFilters`, `q`
included) and starts from `visible_turns(request.user)`, so it counts exactly the
traces the list would show that person, and nobody else's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from conversations.review.charts import chart_data
from conversations.review.charts_draw import chart_context
from conversations.review.filters import BadFilter, TraceFilters, with_filters
from conversations.review.visibility import visible_turns


@login_required
@require_GET
def charts(request: HttpRequest) -> HttpResponse:
    try:
        filters = TraceFilters.from_params(request.GET)
    except BadFilter as exc:
        failed = {"error": str(exc), "list_url": reverse("review-list")}
        return render(request, "review/charts.html", failed, status=400)
    data = chart_data(filters.apply(visible_turns(request.user)))
    context: dict[str, Any] = {
        **chart_context(data),
        "values": sorted(filters.values.items()),
        "list_url": with_filters("review-list", filters.values),
    }
    return render(request, "review/charts.html", context)
