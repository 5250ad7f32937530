"""A person's identity at an OpenID provider: the issuer and its `sub`, never the e-mail.

One person may have several (a company that changed its IdP); each (issuer, sub) is
one person's. `groups` is what the latest sign-in with it carried in the groups
claim: teams that follow a group are recomputed from it when their group is set.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OidcIdentity(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="oidc_identities",
    )
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject (sub)"), max_length=255)
    groups = models.JSONField(_("groups at the latest sign-in"), default=list, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_login = models.DateTimeField(_("latest sign-in"), null=True, blank=True)

    class Meta:
        verbose_name = _("company sign-in identity")
        verbose_name_plural = _("company sign-in identities")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidcidentity_unique_sub"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer}"
