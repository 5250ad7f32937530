from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from conversations import actions
from conversations.live.lifecycle import sweep_sync
from conversations.models import Conversation
from conversations.serializers import conversation_json
from providers.models import ChatModel


def json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _load(request: HttpRequest, conversation_id: Any) -> tuple[Conversation, list[Any]]:
    conversation = actions.conversation_for_user(request.user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    sweep_sync(conversation.id)
    return conversation, list(conversation.turns.order_by("index"))


def _sidebar(request: HttpRequest) -> Any:
    return Conversation.objects.for_user(request.user).order_by("-updated")[:100]


def _models() -> list[ChatModel]:
    return list(
        ChatModel.objects.select_related("provider")
        .filter(enabled=True, provider__enabled=True)
        .order_by("provider__name", "model_id")
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "chat.html", {"conversations": _sidebar(request), "models": _models()})


@login_required
def conversation_page(request: HttpRequest, conversation_id: str) -> HttpResponse:
    conversation, _turns = _load(request, conversation_id)
    return render(
        request,
        "chat.html",
        {"conversation": conversation, "conversations": _sidebar(request), "models": _models()},
    )


# --- JSON API ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def api_conversations(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return json_error(403, "forbidden", "Sign in first.")
    if request.method == "POST":
        title = ""
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                return json_error(400, "bad_json", "The body must be JSON.")
            if isinstance(body, dict) and isinstance(body.get("title"), str):
                title = body["title"]
        conversation = actions.create_conversation(request.user, title)
        return JsonResponse({"id": str(conversation.id), "title": conversation.title}, status=201)
    query = request.GET.get("q", "").strip()
    rows = Conversation.objects.for_user(request.user).order_by("-updated")
    if query:
        rows = rows.filter(
            Q(title__icontains=query) | Q(turns__content__icontains=query)
        ).distinct()
    return JsonResponse(
        {
            "conversations": [
                {"id": str(c.id), "title": c.title, "updated": c.updated.isoformat()}
                for c in rows[:200]
            ]
        }
    )


@require_http_methods(["GET"])
def api_conversation(request: HttpRequest, conversation_id: str) -> JsonResponse:
    if not request.user.is_authenticated:
        return json_error(403, "forbidden", "Sign in first.")
    try:
        conversation, turns = _load(request, conversation_id)
    except Http404:
        return json_error(404, "not_found", "No such conversation.")
    return JsonResponse(conversation_json(conversation, turns))


def redirect_home(request: HttpRequest) -> HttpResponse:
    return redirect("home")
