from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from accounts import access
from conversations import actions, plans
from conversations.errors import ClientError
from conversations.export import conversation_markdown
from conversations.live.lifecycle import sweep_sync
from conversations.models import Conversation
from conversations.serializers import conversation_header, conversation_json, loads_text
from providers.models import ChatModel


def json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _system_prompt_error(body: dict[str, Any]) -> JsonResponse | None:
    """The 400 for a `system_prompt` that is not a string or is too long; None: fine."""
    if "system_prompt" not in body:
        return None
    prompt = body["system_prompt"]
    if not isinstance(prompt, str):
        return json_error(400, "bad_json", "system_prompt must be a string.")
    limit = Conversation.SYSTEM_PROMPT_MAX_CHARS
    if len(prompt) > limit:
        return json_error(
            400,
            "too_large",
            f"The system prompt is {len(prompt):,} characters long; the limit is {limit:,}.",
        )
    return None


def _load(request: HttpRequest, conversation_id: Any) -> tuple[Conversation, list[Any]]:
    conversation = actions.conversation_for_user(request.user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    sweep_sync(conversation.id)
    return conversation, list(conversation.turns.order_by("index"))


def _sidebar(request: HttpRequest) -> Any:
    return Conversation.objects.for_user(request.user).chats().order_by("-updated")[:100]


def _page(request: HttpRequest, **context: Any) -> HttpResponse:
    context.update(
        conversations=_sidebar(request),
        models=_models(request),
        max_message_chars=settings.CHAT_MAX_MESSAGE_CHARS,
        max_system_prompt_chars=Conversation.SYSTEM_PROMPT_MAX_CHARS,
    )
    return render(request, "chat.html", context)


def _models(request: HttpRequest) -> list[ChatModel]:
    # Only those the person may use (accounts/access.py decides).
    return access.models_for(request.user)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
def conversation_page(request: HttpRequest, conversation_id: str) -> HttpResponse:
    # The page script fetches the turns; here only whether it is theirs.
    conversation = actions.conversation_for_user(request.user, conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    return _page(request, conversation=conversation)


# --- JSON API ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def api_conversations(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return json_error(403, "forbidden", "Sign in first.")
    if request.method == "POST":
        title = system_prompt = ""
        if request.body:
            try:
                body = loads_text(request.body)
            except ValueError:
                return json_error(400, "bad_json", "The body must be JSON text.")
            if isinstance(body, dict):
                if isinstance(body.get("title"), str):
                    title = body["title"]
                refused = _system_prompt_error(body)
                if refused is not None:
                    return refused
                system_prompt = body.get("system_prompt") or ""
        conversation = actions.create_conversation(request.user, title, system_prompt)
        return JsonResponse(conversation_header(conversation), status=201)
    query = request.GET.get("q", "").strip()
    rows = Conversation.objects.for_user(request.user).chats().order_by("-updated")
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


@require_http_methods(["GET", "PATCH", "DELETE"])
def api_conversation(request: HttpRequest, conversation_id: str) -> JsonResponse:
    if not request.user.is_authenticated:
        return json_error(403, "forbidden", "Sign in first.")
    try:
        conversation, turns = _load(request, conversation_id)
    except Http404:
        return json_error(404, "not_found", "No such conversation.")
    if request.method == "PATCH":
        try:
            body = loads_text(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not ({"title", "system_prompt"} & set(body)):
            return json_error(
                400, "bad_json", "The body must be JSON with a title or a system_prompt."
            )
        if "title" in body and not isinstance(body["title"], str):
            return json_error(400, "bad_json", "title must be a string.")
        refused = _system_prompt_error(body)
        if refused is not None:
            return refused
        if "title" in body:
            actions.rename_conversation(conversation, body["title"])
        if "system_prompt" in body:
            actions.set_system_prompt(conversation, body["system_prompt"])
        return JsonResponse(conversation_header(conversation))
    if request.method == "DELETE":
        try:
            actions.delete_conversation(conversation)
        except ClientError as exc:
            return json_error(409, exc.code, exc.message)
        return JsonResponse({}, status=204)
    return JsonResponse(conversation_json(conversation, turns, staff=request.user.is_staff))


@login_required
@require_http_methods(["GET"])
def conversation_download(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """The branch ending at `?turn=` (default: the newest turn) as a Markdown file."""
    conversation, turns = _load(request, conversation_id)
    last = request.GET.get("turn") or (str(turns[-1].id) if turns else None)
    path = plans.path_to(turns, last)
    response = HttpResponse(
        conversation_markdown(conversation, path), content_type="text/markdown; charset=utf-8"
    )
    name = slugify(conversation.title)[:60] or "conversation"
    response["Content-Disposition"] = f'attachment; filename="{name}.md"'
    return response


def redirect_home(request: HttpRequest) -> HttpResponse:
    return redirect("home")
