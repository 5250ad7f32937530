from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("People and teams")

    def ready(self) -> None:
        # Connects the signals that keep access and quotas fresh.
        from accounts import access, quota  # noqa: F401
