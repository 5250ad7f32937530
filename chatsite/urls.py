from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from accounts import token_views
from accounts.oidc import views as oidc_views
from accounts.throttle import ThrottledAdminAuthenticationForm
from chatsite import admin_site
from chatsite import views as site_views
from conversations import views
from conversations.openai_api import views as openai_views
from conversations.review import charts_view, redaction_view
from conversations.review import views as review_views

# The admin's sign-in is throttled like the site's (accounts/throttle.py).
admin.site.login_form = ThrottledAdminAuthenticationForm
# Its header and titles name the product (chatsite/admin_site.py).
admin_site.name(admin.site)

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<uuid:conversation_id>/", views.conversation_page, name="conversation"),
    path(
        "c/<uuid:conversation_id>/download.md",
        views.conversation_download,
        name="conversation-download",
    ),
    path("api/conversations/", views.api_conversations, name="api-conversations"),
    path(
        "api/conversations/<str:conversation_id>/", views.api_conversation, name="api-conversation"
    ),
    path("review/", review_views.trace_list, name="review-list"),
    path("review/export.jsonl", review_views.export_jsonl, name="review-export"),
    path("review/export.md", review_views.export_markdown, name="review-export-md"),
    path("review/compare/", review_views.compare, name="review-compare"),
    path("review/queue/", review_views.review_queue, name="review-queue"),
    path("review/charts/", charts_view.charts, name="review-charts"),
    path("review/<uuid:turn_id>/", review_views.trace_page, name="review-trace"),
    path("review/<uuid:turn_id>/redact/", redaction_view.redact, name="review-redact"),
    path("settings/tokens/", token_views.tokens_page, name="api-tokens"),
    path(
        "settings/tokens/<int:token_id>/revoke/",
        token_views.revoke_token,
        name="api-token-revoke",
    ),
    # The OpenAI-compatible API: Bearer tokens, no session, no CSRF.
    path("v1/models", openai_views.models, name="openai-models"),
    path("setup/", site_views.setup, name="setup"),
    path("healthz", site_views.healthz, name="healthz"),
    path("favicon.ico", site_views.favicon, name="favicon"),
    path("accounts/login/", site_views.LoginView.as_view(), name="login"),
    # Signing out also ends a company sign-in at the IdP (accounts/oidc/views.py).
    path("accounts/logout/", oidc_views.LogoutView.as_view(), name="logout"),
    path("oidc/", include("accounts.oidc.urls")),
    path(
        "accounts/password_reset/",
        site_views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # Only the project's own catalogue (LOCALE_PATHS, always read): with no package
    # named, Django adds every installed app's, the admin's calendar and widget
    # strings included, which tripled what the Chinese chat page downloads.
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["conversations"]),
        name="javascript-catalog",
    ),
]
