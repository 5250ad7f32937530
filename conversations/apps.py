from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self) -> None:
        # Connects the signals that keep resolved models, access and quotas fresh.
        from conversations import catalog  # noqa: F401
