"""`POST /review/<turn>/redact/`: a redaction in two steps. The trace page's form
posts the part and the passage and gets a confirmation page saying where it occurs
and how often (nothing changed yet); that page posts them again with `confirm=1`,
which does it. Both steps are POSTs so the passage never lands in a URL (history,
access logs). Works without script.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from conversations.review import redaction
from conversations.review.forms import RedactForm
from conversations.review.visibility import visible_turns


@login_required
@require_POST
def redact(request: HttpRequest, turn_id: Any) -> HttpResponse:
    # Owner, team reviewer or superuser: who may see it; anyone else a 404.
    turns = visible_turns(request.user).select_related("conversation__owner")
    turn = get_object_or_404(turns, pk=turn_id)
    query = request.GET.urlencode()  # inside a queue: back to it afterwards
    back = reverse("review-trace", args=[turn.id]) + ("?" + query if query else "")
    form = RedactForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Paste or select the passage to redact."))
        return redirect(back + "#redact")
    part, passage = form.cleaned_data["part"], form.cleaned_data["passage"]
    try:
        if request.POST.get("confirm") != "1":
            plan = redaction.preview(turn, part, passage)
            context = {"turn": turn, "plan": plan, "back": back, "query": query}
            return render(request, "review/redact_confirm.html", context)
        record = redaction.redact(turn.id, request.user, part, passage)
    except redaction.RedactError as exc:
        messages.error(request, str(exc))
        return redirect(back + "#redact")
    text = ngettext("Redacted %(count)s character.", "Redacted %(count)s characters.", record.chars)
    messages.success(request, text % {"count": record.chars})
    return redirect(back + "#redact")
