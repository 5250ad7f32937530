"""Trace review pages: the list, one trace and its judgement, the export, the
comparison of 2 to 4 traces side by side, and the review queue (queue.py); the
redaction's two steps are redaction_view.py.

Every lookup starts from `visible_turns(request.user)`: a trace the person may not
see is a 404 everywhere.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from conversations.errors import public_error
from conversations.models import Turn
from conversations.review import actions, export, plain, queue, sorting, traces
from conversations.review.filters import BadFilter, TraceFilters, page, with_filters
from conversations.review.forms import RedactForm, ReviewForm
from conversations.review.visibility import reviewable_models, reviewed_teams, visible_turns


def _trace(request: HttpRequest, turn_id: Any) -> Turn:
    turns = visible_turns(request.user).select_related("conversation__owner", "signals")
    return get_object_or_404(turns, pk=turn_id)


def _seconds(ms: Any) -> float | None:
    return round(ms / 1000, 1) if isinstance(ms, int | float) else None


def _signals(turn: Turn) -> Any:
    """The turn's stored TraceSignals, or None (a turn from before they existed)."""
    return getattr(turn, "signals", None)


def _row(turn: Turn, turn_reviews: list[Any], heads: tuple[str, str, str]) -> dict[str, Any]:
    usage, timings = turn.usage or {}, turn.timings or {}
    return {
        "turn": turn,
        "signals": _signals(turn),
        "reasoning_tokens": usage.get("reasoning_tokens"),
        "answer_tokens": traces.answer_tokens(usage),
        "thinking": _seconds(timings.get("reasoning_duration")),
        "answer": plain.preview(heads[0]),
        "reasoning": plain.preview(heads[1]),
        "question": plain.preview(heads[2]),
        **traces.summary(turn_reviews),
    }


@login_required
@require_GET
def trace_list(request: HttpRequest) -> HttpResponse:
    error, status, next_cursor = "", 200, ""
    rows: list[Turn] = []
    filters = TraceFilters()
    try:
        filters = TraceFilters.from_params(request.GET)
        # The previews need only the texts' heads, read for the chosen page alone:
        # 50 rows of 20 KB reasoning each would otherwise be a megabyte per page.
        turns = (
            filters.apply(visible_turns(request.user))
            .select_related("conversation__owner", "signals")
            .defer("content", "reasoning_content", "request_messages")
        )
        rows, next_cursor = page(turns, request.GET.get("after"), sort=filters.sort)
    except BadFilter as exc:
        error, status = str(exc), 400
    reviews, heads = traces.reviews(rows), plain.heads(rows)
    query = urlencode(filters.values)
    models = reviewable_models(request.user)
    context = {
        "rows": [_row(t, reviews.get(t.id, []), heads.get(t.pk, ("", "", ""))) for t in rows],
        "values": filters.values,
        "error": error,
        "note": filters.note,
        "next_url": "?" + urlencode({**filters.values, "after": next_cursor})
        if next_cursor
        else "",
        "first_url": ("?" + query) if request.GET.get("after") else "",
        "export_url": with_filters("review-export", filters.values),
        "export_md_url": with_filters("review-export-md", filters.values),
        "statuses": Turn.Status.choices,
        "signal_choices": _signal_choices(),
        "compare_url": reverse("review-compare"),
        "queue_url": with_filters("review-queue", filters.values),
        "sort": filters.sort,
        "sorts": sorting.SORTS.values(),
        "column_sorts": _column_sorts(filters),
        "teams": reviewed_teams(request.user),
        "models": models,
        # A model named in the URL but not offered (deleted since): kept selected.
        "model_unlisted": bool(filters.values.get("model"))
        and filters.values.get("model") not in {m.ref for m in models},
    }
    return render(request, "review/list.html", context, status=status)


# A sortable column's two orders: a click on its header gives the first, unless the
# list is already in that order (then the second).
_COLUMN_SORTS = {
    "date": ("newest", "oldest"),
    "reasoning": ("longest_reasoning", "shortest_reasoning"),
    "thinking": ("longest_thinking", "shortest_thinking"),
    "ratio": ("highest_ratio", "lowest_ratio"),
}


def _column_sorts(filters: TraceFilters) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (keeping the filters, back to
    the first page) and, when the list is sorted by it, `ascending` or `descending`
    (the header's aria-sort)."""
    found = {}
    for column, (first, second) in _COLUMN_SORTS.items():
        target = second if filters.sort.name == first else first
        params = {**filters.values, "sort": target}
        if target == sorting.DEFAULT:
            del params["sort"]
        state = ""
        if filters.sort.name in (first, second):
            state = "descending" if filters.sort.descending else "ascending"
        url = "?" + urlencode(params) if params else reverse("review-list")
        found[column] = {"url": url, "state": state}
    return found


def _signal_choices() -> list[tuple[str, str]]:
    return [
        ("empty_answer", _("Empty answer")),
        ("cut", _("Cut")),
        ("looping", _("Looping")),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def trace_page(request: HttpRequest, turn_id: Any) -> HttpResponse:
    turn = _trace(request, turn_id)
    in_queue: TraceFilters | None = None
    if request.GET.get("queue"):
        try:
            in_queue = TraceFilters.from_params(request.GET)
        except BadFilter as exc:
            return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    turn_reviews = traces.reviews([turn]).get(turn.id, [])
    mine = next((r for r in turn_reviews if r.reviewer_id == request.user.pk), None)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            tags = actions.parse_tags(data["tags"])
            actions.rate(turn, request.user, data["rating"], data["score"], tags, data["note"])
            messages.success(request, _("Your review is saved."))
            if in_queue is not None:  # on to the next trace to do
                return redirect(_queue_url(in_queue, start=turn))
            return redirect(reverse("review-trace", args=[turn.id]) + "#review")
    else:
        initial = {}
        if mine is not None:
            initial = {
                "rating": mine.rating,
                "score": mine.score,
                "tags": ", ".join(t.name for t in mine.tags.all()),
                "note": mine.note,
            }
        form = ReviewForm(initial=initial)
    usage, timings = turn.usage or {}, turn.timings or {}
    context = {
        "turn": turn,
        "messages_sent": traces.contexts([turn])[turn.id],
        "usage": usage,
        "answer_tokens": traces.answer_tokens(usage),
        "timings": [(label, _seconds(timings.get(key))) for key, label in _timing_labels()],
        "error": public_error(turn.error, staff=request.user.is_staff),
        "reviews": turn_reviews,
        "form": form,
        "redact_form": RedactForm(),
        "redactions": turn.redactions.select_related("by"),
        "staff": request.user.is_staff,
        "signals": _signals(turn),
        "references": traces.references(turn.references),
        "queue": _queue_bar(request, in_queue, turn) if in_queue is not None else None,
        "siblings_url": _siblings_url(request, turn),
        "list_url": reverse("review-list")
        + "?"
        + urlencode({"user": turn.conversation.owner.get_username()}),
    }
    return render(
        request, "review/trace.html", context, status=200 if request.method == "GET" else 400
    )


def _queue_url(filters: TraceFilters, start: Turn | None = None) -> str:
    params = {**filters.values, **({"from": str(start.id)} if start is not None else {})}
    return with_filters("review-queue", params)


def _in_queue_url(filters: TraceFilters, turn: Turn) -> str:
    """A trace's page inside the queue: the list's parameters and `queue=1`."""
    return with_filters("review-trace", {**filters.values, "queue": "1"}, turn.id)


def _queue_bar(request: HttpRequest, filters: TraceFilters, turn: Turn) -> dict[str, Any]:
    turns = filters.apply(visible_turns(request.user))
    before, after = queue.neighbours(turns, filters.sort, turn)
    return {
        "progress": queue.progress(turns, request.user),
        "previous_url": _in_queue_url(filters, before) if before else "",
        "next_url": _in_queue_url(filters, after) if after else "",
        "skip_url": _queue_url(filters, start=turn),
        "list_url": with_filters("review-list", filters.values),
        "sort": filters.sort,
    }


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """Opens the first trace of the list's set that the person has not reviewed
    (after `from=<turn>` when given, wrapping round); or says that none is left."""
    try:
        filters = TraceFilters.from_params(request.GET)
    except BadFilter as exc:
        return render(request, "review/queue_end.html", {"error": str(exc)}, status=400)
    start = None
    if request.GET.get("from"):
        try:
            start_id = uuid.UUID(request.GET["from"])
        except ValueError:
            raise Http404 from None
        start = _trace(request, start_id)  # a turn the person may not see: 404
    turns = filters.apply(visible_turns(request.user))
    found = queue.next_to_do(turns, filters.sort, request.user, after=start)
    if found is not None:
        if start is not None and found.id == start.id:
            messages.info(request, _("This is the only trace of the queue left to review."))
        return redirect(_in_queue_url(filters, found))
    first = sorting.walk(turns.select_related("signals"), filters.sort, None, 1)
    context = {
        "progress": queue.progress(turns, request.user),
        "list_url": with_filters("review-list", filters.values),
        "first_url": _in_queue_url(filters, first[0]) if first else "",
    }
    return render(request, "review/queue_end.html", context)


def _siblings_url(request: HttpRequest, turn: Turn) -> str:
    """The comparison of the turn with the other answers to its message (regenerations,
    other models) that the person may see: '' when it has none. At most 3 siblings,
    the earliest, since a comparison takes 4 turns."""
    if turn.parent_id is None:
        return ""
    siblings = list(
        visible_turns(request.user)
        .filter(parent_id=turn.parent_id)
        .exclude(pk=turn.pk)
        .order_by("index")
        .values_list("id", flat=True)[: COMPARE_MAX - 1]
    )
    if not siblings:
        return ""
    ids = ",".join(str(i) for i in [turn.id, *siblings])
    return reverse("review-compare") + "?" + urlencode({"turns": ids})


COMPARE_MIN, COMPARE_MAX = 2, 4


def _compared_ids(request: HttpRequest) -> list[uuid.UUID] | None:
    """The ids of `turns=` (comma-separated, or repeated as the list's checkboxes send
    them), in order, once each; None unless 2 to 4 valid ids."""
    ids: list[uuid.UUID] = []
    for value in request.GET.getlist("turns"):
        for raw in value.split(","):
            if not raw.strip():
                continue
            try:
                turn_id = uuid.UUID(raw.strip())
            except ValueError:
                return None
            if turn_id not in ids:
                ids.append(turn_id)
    return ids if COMPARE_MIN <= len(ids) <= COMPARE_MAX else None


@login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """2 to 4 traces side by side. Anything else (too few or many, a malformed id, a
    turn the person may not see) is a 404 that says nothing of which turn failed."""
    ids = _compared_ids(request)
    found: dict[Any, Turn] = {}
    if ids is not None:
        turns = visible_turns(request.user).filter(pk__in=ids)
        found = {t.id: t for t in turns.select_related("conversation__owner", "signals")}
    if ids is None or len(found) != len(ids):
        return render(request, "review/compare_missing.html", status=404)
    columns = []
    for turn_id in ids:
        turn = found[turn_id]
        usage, timings = turn.usage or {}, turn.timings or {}
        columns.append(
            {
                "turn": turn,
                "signals": _signals(turn),
                "reasoning_chars": len(turn.reasoning_content),
                "answer_chars": len(turn.content),
                "thinking": _seconds(timings.get("reasoning_duration")),
                "usage": usage,
                "answer_tokens": traces.answer_tokens(usage),
                "references": traces.references(turn.references),
            }
        )
    context = {"columns": columns, "list_url": reverse("review-list")}
    return render(request, "review/compare.html", context)


def _timing_labels() -> list[tuple[str, str]]:
    return [
        ("reasoning_first_token", _("First reasoning token")),
        ("reasoning_duration", _("Thinking time")),
        ("content_first_token", _("First answer token")),
        ("total", _("Total time")),
    ]


def _export(
    request: HttpRequest, render_lines: Any, content_type: str, name: str
) -> HttpResponseBase:
    try:
        filters = TraceFilters.from_params(request.GET)
    except BadFilter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    lines = render_lines(
        filters.apply(visible_turns(request.user)),
        staff=request.user.is_staff,
        sort=filters.sort,  # the list's order
    )
    # Under ASGI a sync iterator would be read whole into memory before the first byte
    # (Django's StreamingHttpResponse): pull it a batch at a time on the request's thread.
    body = _pulled(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


async def _pulled(lines: Iterator[str], batch: int = 50) -> AsyncIterator[bytes]:
    take = sync_to_async(lambda: list(itertools.islice(lines, batch)), thread_sensitive=True)
    while chunk := await take():
        yield "".join(chunk).encode()


@login_required
@require_GET
def export_jsonl(request: HttpRequest) -> HttpResponseBase:
    return _export(
        request, export.jsonl_lines, "application/x-ndjson; charset=utf-8", "traces.jsonl"
    )


@login_required
@require_GET
def export_markdown(request: HttpRequest) -> HttpResponseBase:
    return _export(request, export.markdown_lines, "text/markdown; charset=utf-8", "traces.md")
