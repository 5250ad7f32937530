"""Teams: who may use which model, and how many tokens a day.

A team is its own small model rather than a profile on `auth.Group`: groups carry
Django permissions (admin-site rights), and a team grants chat models, not admin
rights; a team page also needs its members as a real field (`filter_horizontal`),
and a second set of people, its reviewers.

Reviewers are members too: every reviewer is in `members` (the admin form refuses
a reviewer who is not, `add_team --reviewer` adds them to both). Access and quota
read `members` only; `reviewers` adds the right to read the members' traces.

Access is decided in `accounts/access.py`, quotas in `accounts/quota.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="teams", blank=True
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewers"),
        related_name="reviewed_teams",
        blank=True,
        help_text=_("Members who may also read the other members' traces."),
    )
    daily_token_quota = models.PositiveBigIntegerField(
        _("daily token quota"),
        null=True,
        blank=True,
        help_text=_(
            "Total tokens (reasoning included) of all members' turns, on any model, "
            "per day from 00:00 UTC. Empty: unlimited; 0: no turns."
        ),
    )
    reasoning_retention_days = models.PositiveIntegerField(
        _("reasoning retention days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Erase the reasoning of members' turns older than this (the answer is "
            "kept). Empty: keep it."
        ),
    )
    # Company sign-in (accounts/oidc/sync.py): set, the members are exactly the people
    # whose latest sign-in carried this group; empty, members are managed by hand.
    idp_group = models.CharField(
        _("IdP group"),
        max_length=200,
        blank=True,
        default="",
        help_text=_(
            "A group name from the identity provider's groups claim. Set, the members "
            "are the people whose latest company sign-in carried it, and nobody edits "
            "them by hand. Empty: members are managed here."
        ),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    # Last: from here on, `models` in this class body is this field, not django.db.models.
    models = models.ManyToManyField(
        "providers.ChatModel",
        verbose_name=_("models"),
        related_name="teams",
        blank=True,
        help_text=_(
            "A model given to no team is open to every signed-in user; a model "
            "given to teams, only to their members."
        ),
    )

    class Meta:
        db_table = "providers_team"  # kept from when the model lived in providers/
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="team_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
