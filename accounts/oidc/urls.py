from django.urls import path

from accounts.oidc import failures, views

urlpatterns = [
    path("login/", views.start, name="oidc-login"),
    path("callback/", views.callback, name="oidc-callback"),
    path("failed/<slug:kind>/", failures.failed, name="oidc-failed"),
]
