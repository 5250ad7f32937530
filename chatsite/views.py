from typing import Any

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UserCreationForm
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from accounts.oidc import config as oidc_config
from accounts.throttle import ThrottledAuthenticationForm, ThrottledPasswordResetForm


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says: send
    them to the icon's static file (its hashed name in production, so not permanent)."""
    return redirect(static("favicon.svg"))


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and compose: the process answers and the database does too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class FirstAdminForm(UserCreationForm):  # type: ignore[type-arg]
    email = forms.EmailField(required=False)

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


def setup(request: HttpRequest) -> HttpResponse:
    """With an empty database, the first visitor creates the admin account; then never again."""
    User = get_user_model()
    if User.objects.exists():
        return redirect("login")
    form = FirstAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if User.objects.select_for_update().exists():
                return redirect("login")
            user = form.save(commit=False)
            user.is_staff = True
            user.is_superuser = True
            user.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "setup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's login; on a database with no user yet, it sends the visitor to /setup/.
    Failed sign-ins are throttled (accounts/throttle.py)."""

    authentication_form = ThrottledAuthenticationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        if form is not None and form.is_bound:
            for error in form.errors.as_data().get("__all__", []):
                # Said as it is (the template's generic "didn't match" would mislead).
                if error.code in ("throttled", "password_login_off"):
                    context["throttled"] = error.messages[0]
        context.update(oidc_config.login_context())  # the company sign-in button
        return context

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not get_user_model().objects.exists():
            return redirect("setup")
        return super().dispatch(request, *args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, throttled per e-mail and per address (accounts/throttle.py)."""

    form_class = ThrottledPasswordResetForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}
