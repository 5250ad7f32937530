from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Conversations and reviews")

    def ready(self) -> None:
        # Connects the signals that keep resolved models, access and quotas fresh.
        from conversations import catalog  # noqa: F401
