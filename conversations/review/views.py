"""Trace review pages: the list, one trace, its judgement and redaction, the export,
and the comparison of 2 to 4 traces side by side.

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
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversations.models import Turn
from conversations.review import actions, export, traces
from conversations.review.filters import BadFilter, TraceFilters, page
from conversations.review.forms import RedactForm, ReviewForm
from conversations.review.visibility import reviewed_teams, visible_turns
from providers.models import ChatModel


def _trace(request: HttpRequest, turn_id: Any) -> Turn:
    turns = visible_turns(request.user).select_related("conversation__owner")
    return get_object_or_404(turns, pk=turn_id)


def _seconds(ms: Any) -> float | None:
    return round(ms / 1000, 1) if isinstance(ms, int | float) else None


def _signals(turn: Turn) -> Any:
    """The turn's stored TraceSignals, or None (a turn from before they existed)."""
    return getattr(turn, "signals", None)


def _row(turn: Turn, turn_reviews: list[Any]) -> dict[str, Any]:
    usage, timings = turn.usage or {}, turn.timings or {}
    return {
        "turn": turn,
        "signals": _signals(turn),
        "reasoning_tokens": usage.get("reasoning_tokens"),
        "answer_tokens": traces.answer_tokens(usage),
        "thinking": _seconds(timings.get("reasoning_duration")),
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
        turns = filters.apply(visible_turns(request.user)).select_related(
            "conversation__owner", "signals"
        )
        rows, next_cursor = page(turns, request.GET.get("after"))
    except BadFilter as exc:
        error, status = str(exc), 400
    reviews = traces.reviews(rows)
    query = urlencode(filters.values)
    context = {
        "rows": [_row(t, reviews.get(t.id, [])) for t in rows],
        "values": filters.values,
        "error": error,
        "next_url": "?" + urlencode({**filters.values, "after": next_cursor})
        if next_cursor
        else "",
        "first_url": ("?" + query) if request.GET.get("after") else "",
        "export_url": reverse("review-export") + ("?" + query if query else ""),
        "export_md_url": reverse("review-export-md") + ("?" + query if query else ""),
        "statuses": Turn.Status.values,
        "signal_choices": _signal_choices(),
        "compare_url": reverse("review-compare"),
        "teams": reviewed_teams(request.user),
        "models": ChatModel.objects.select_related("provider").order_by(
            "provider__name", "model_id"
        ),
    }
    return render(request, "review/list.html", context, status=status)


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
    turn_reviews = traces.reviews([turn]).get(turn.id, [])
    mine = next((r for r in turn_reviews if r.reviewer_id == request.user.pk), None)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            tags = actions.parse_tags(data["tags"])
            actions.rate(turn, request.user, data["rating"], data["score"], tags, data["note"])
            messages.success(request, _("Your review is saved."))
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
        "error": export.public_error(turn.error, staff=request.user.is_staff),
        "reviews": turn_reviews,
        "form": form,
        "redact_form": RedactForm(),
        "redactions": turn.redactions.select_related("by"),
        "staff": request.user.is_staff,
        "signals": _signals(turn),
        "siblings_url": _siblings_url(request, turn),
        "list_url": reverse("review-list")
        + "?"
        + urlencode({"user": turn.conversation.owner.get_username()}),
    }
    return render(
        request, "review/trace.html", context, status=200 if request.method == "GET" else 400
    )


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


@login_required
@require_POST
def redact(request: HttpRequest, turn_id: Any) -> HttpResponse:
    turn = _trace(request, turn_id)  # owner, team reviewer or superuser: who may see it
    form = RedactForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Paste or select the passage to redact."))
    else:
        try:
            record = actions.redact(
                turn.id, request.user, form.cleaned_data["part"], form.cleaned_data["passage"]
            )
        except actions.RedactError as exc:
            messages.error(request, str(exc))
        else:
            text = ngettext(
                "Redacted %(count)s character.", "Redacted %(count)s characters.", record.chars
            )
            messages.success(request, text % {"count": record.chars})
    return redirect(reverse("review-trace", args=[turn.id]) + "#redact")


def _export(
    request: HttpRequest, render_lines: Any, content_type: str, name: str
) -> HttpResponseBase:
    try:
        filters = TraceFilters.from_params(request.GET)
    except BadFilter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    lines = render_lines(filters.apply(visible_turns(request.user)), staff=request.user.is_staff)
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
