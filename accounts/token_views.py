"""The page where a person manages their API tokens and reads how to connect a tool:
`/settings/tokens/`.

A new token's secret is in the one answer to the form that made it (never stored,
never in a URL, the answer not cached); afterwards the list shows its first characters
and last four. Revoking takes the token's id from the person's own tokens only:
anyone else's is a 404. Creating and revoking are in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import access, quota
from accounts.tokens import ApiToken, create_token, revoke

MAX_EXPIRY_DAYS = 3650


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What uses it, such as “laptop” or “CI”."),
    )
    expires_days = forms.IntegerField(
        label=gettext_lazy("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        help_text=gettext_lazy("Leave empty for a token that does not expire."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Give the token a name."))
        if ApiToken.objects.for_user(self.user).active().filter(name=name).exists():
            raise forms.ValidationError(_("You already have a token with this name."))
        return name


@dataclass(frozen=True)
class QuotaLeft:
    team: str
    quota: int
    left: int

    @property
    def shown(self) -> tuple[str, str]:
        """Left and quota as the other limits write numbers (1,000,000)."""
        return f"{self.left:,}", f"{self.quota:,}"


def quotas_left(user: Any) -> list[QuotaLeft]:
    """What each of the person's teams with a daily quota has left today."""
    day = timezone.now().astimezone(UTC).date()
    found = []
    for team in access.teams_of(user):
        if team.daily_token_quota is None:
            continue
        used = quota.used_today(team.id, day)
        left = max(0, team.daily_token_quota - used)
        found.append(QuotaLeft(team.name, team.daily_token_quota, left))
    return found


def _page(
    request: HttpRequest, form: TokenForm, secret: str = "", status: int = 200
) -> HttpResponse:
    user = request.user
    models = access.models_for(user)
    context = {
        "form": form,
        "secret": secret,
        "tokens": ApiToken.objects.for_user(user).filter(revoked__isnull=True),
        "base_url": request.build_absolute_uri("/v1"),
        "models": models,
        "example_model": models[0].ref if models else "provider/model-id",
        "quotas": quotas_left(user),
        "teams": access.teams_of(user),
        "now": timezone.now(),
    }
    return render(request, "settings/tokens.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, TokenForm(user=request.user))
    form = TokenForm(request.POST, user=request.user)
    if not form.is_valid():
        return _page(request, form, status=400)
    token, secret = create_token(
        request.user,
        form.cleaned_data["name"],
        form.cleaned_data.get("expires_days"),
        actor=request.user,
        via="settings page",
    )
    # The one time the secret is shown: in this answer, which nothing caches.
    return _page(request, TokenForm(user=request.user), secret=secret)


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(
        ApiToken.objects.for_user(request.user).filter(revoked__isnull=True), pk=token_id
    )
    revoke(token, actor=request.user, via="settings page")
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api-tokens")
