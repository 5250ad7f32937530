from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = _("Providers and models")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from providers.demo import ensure_demo_provider
        from providers.redact import install_record_factory

        post_migrate.connect(ensure_demo_provider, sender=self)
        # Log records are scrubbed of API keys as they are made, whatever handles them.
        install_record_factory()
