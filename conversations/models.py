from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: Any) -> ConversationQuerySet:
        """Every lookup a user makes goes through here: another user's rows don't exist."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def chats(self) -> ConversationQuerySet:
        """The chat's own: not the conversations of API requests."""
        return self.filter(source=Source.CHAT)


class Source(models.TextChoices):
    CHAT = "chat", _("chat")
    API = "api", _("API")


class Conversation(models.Model):
    # A bound on what a person may set, checked where it is set (the JSON API).
    SYSTEM_PROMPT_MAX_CHARS = 20_000

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    # Sent first in every request of the conversation (a system message), or at the
    # start of its first message for a model that takes none (conversations/context.py).
    system_prompt = models.TextField(_("system prompt"), blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    updated = models.DateTimeField(_("updated"), default=timezone.now)
    # Where its turns come from: the chat, or one request to the OpenAI-compatible
    # API (conversations/openai_api), which is kept off the person's chat lists.
    source = models.CharField(
        _("source"), max_length=8, choices=Source.choices, default=Source.CHAT
    )

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            # The sidebar: a user's conversations, most recent first.
            models.Index(fields=["owner", "-updated"], name="conversation_owner_recent"),
        ]

    def __str__(self) -> str:
        return self.title or str(self.id)


class TurnQuerySet(models.QuerySet["Turn"]):
    def for_user(self, user: Any) -> TurnQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(conversation__owner=user)

    def running(self) -> TurnQuerySet:
        return self.filter(status=Turn.Status.STREAMING)


class Turn(models.Model):
    class Role(models.TextChoices):
        USER = "user", _("user")
        ASSISTANT = "assistant", _("assistant")

    class Status(models.TextChoices):
        STREAMING = "streaming", _("streaming")
        COMPLETED = "completed", _("completed")
        STOPPED = "stopped", _("stopped")
        FAILED = "failed", _("failed")
        INCOMPLETE = "incomplete", _("incomplete")

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation,
        verbose_name=_("conversation"),
        on_delete=models.CASCADE,
        related_name="turns",
    )
    # Creation order within the conversation (unique: it also decides start races).
    index = models.PositiveIntegerField(_("index"))
    # The turn this one follows (null: the first of a branch from the root). A
    # conversation is a tree: regenerating or editing adds a sibling, and a
    # turn's context is the path from the root to it (conversations/context.py).
    parent = models.ForeignKey(
        "self",
        verbose_name=_("previous turn"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # The answer: the only text that ever goes back to a model.
    content = models.TextField(_("content"), blank=True)
    # The chain of thought: shown and stored, never replayed.
    reasoning_content = models.TextField(_("reasoning"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    model = models.CharField(_("model"), max_length=300, blank=True)  # "<provider>/<model id>"
    options = models.JSONField(_("options"), default=dict, blank=True)
    usage = models.JSONField(_("usage"), null=True, blank=True)
    timings = models.JSONField(_("timings"), null=True, blank=True)
    error = models.JSONField(_("error"), null=True, blank=True)
    # A web-search bot's sources, as sent in `turn.references` (a list, or null when
    # none came), and its own usage object. Shown, never sent back to a model.
    references = models.JSONField(_("sources"), null=True, blank=True)
    bot_usage = models.JSONField(_("bot usage"), null=True, blank=True)
    # What shaped this answer's request besides the turns, as it was when the turn
    # started (on assistant turns): the conversation's system prompt and the model's
    # hints (conversations/context.py). Either may change later; the trace page
    # rebuilds the context from these, so it shows what was sent.
    system_prompt = models.TextField(_("system prompt"), blank=True)
    hints = models.JSONField(_("model hints"), default=dict, blank=True)
    # Which of the provider's API keys served the turn (its label, never the
    # secret) and how many upstream requests it took (failover and retries).
    # An API request's turn: the name of the token it came with, and the messages
    # sent upstream as the client gave them (null for chat turns, whose context is
    # rebuilt from the conversation's tree).
    api_token = models.CharField(_("API token"), max_length=100, blank=True)
    request_messages = models.JSONField(_("request messages"), null=True, blank=True)
    key_label = models.CharField(_("key label"), max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Last event sequence number reflected in the stored text (snapshot + log = whole turn).
    seq = models.PositiveIntegerField(_("event sequence number"), default=0)
    # A running turn's owner renews this; past it, the process is presumed dead.
    lease_expires = models.DateTimeField(_("lease expires"), null=True, blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = TurnQuerySet.as_manager()

    class Meta:
        verbose_name = _("turn")
        verbose_name_plural = _("turns")
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "index"], name="turn_unique_index"),
            # One running turn per conversation: the database itself answers `busy`.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status="streaming"),
                name="turn_one_streaming_per_conversation",
            ),
            models.CheckConstraint(
                condition=Q(role="assistant") | Q(reasoning_content=""),
                name="turn_only_assistant_reasons",
            ),
        ]
        indexes = [
            # Finding turns whose process died (lease expired) without scanning history.
            models.Index(
                fields=["lease_expires"],
                condition=Q(status="streaming"),
                name="turn_streaming_lease",
            ),
            # The trace review list's keyset order (conversations/review/filters.py).
            models.Index(
                fields=["-created", "-id"],
                condition=Q(role="assistant"),
                name="turn_assistant_recent",
            ),
        ]

    def __str__(self) -> str:
        # The heading of each turn in the conversation's admin page.
        return gettext("Turn %(index)s (%(role)s)") % {
            "index": self.index,
            "role": self.get_role_display(),
        }


# Review models live in their own module; importing them here is how Django finds them.
from conversations.review.models import Redaction, Review, ReviewTag  # noqa: E402

__all__ = ["Conversation", "Redaction", "Review", "ReviewTag", "Turn"]
