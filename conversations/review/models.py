"""Review data: judgements of traces and the record of redactions.

A judgement is one person's (a `Review` per turn and reviewer, named unique
constraint): two reviewers of a team may disagree, and an evaluation set wants both
voices rather than whoever saved last. Everyone who may see the turn sees all its
reviews. Tags are rows (`ReviewTag`), not a JSON list: an exact tag filter is then an
indexed join on both SQLite and PostgreSQL (JSON containment is PostgreSQL-only).

A `Redaction` keeps who, when, which part and how much, never the removed text.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Review(models.Model):
    class Rating(models.TextChoices):
        GOOD = "good", _("Good")
        BAD = "bad", _("Bad")

    turn = models.ForeignKey(
        "conversations.Turn",
        verbose_name=_("turn"),
        on_delete=models.CASCADE,
        related_name="reviews",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.CASCADE,
        related_name="trace_reviews",
    )
    rating = models.CharField(_("rating"), max_length=8, choices=Rating.choices, blank=True)
    score = models.PositiveSmallIntegerField(
        _("score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    note = models.TextField(_("note"), blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    updated = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.UniqueConstraint(
                fields=["turn", "reviewer"], name="review_unique_turn_reviewer"
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                name="review_score_1_to_5",
            ),
        ]
        indexes = [
            # The list's rating filter: EXISTS (reviews of this turn with this rating).
            models.Index(fields=["turn", "rating"], name="review_turn_rating"),
        ]

    def __str__(self) -> str:
        return f"review of {self.turn_id} by {self.reviewer_id}"


class ReviewTag(models.Model):
    review = models.ForeignKey(
        Review, verbose_name=_("review"), on_delete=models.CASCADE, related_name="tags"
    )
    name = models.CharField(_("tag"), max_length=50)

    class Meta:
        verbose_name = _("review tag")
        verbose_name_plural = _("review tags")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["review", "name"], name="reviewtag_unique_name"),
        ]
        indexes = [models.Index(fields=["name"], name="reviewtag_name")]

    def __str__(self) -> str:
        return self.name


class Redaction(models.Model):
    class Part(models.TextChoices):
        REASONING = "reasoning", _("Reasoning")
        CONTENT = "content", _("Answer")
        USER = "user", _("Person's message")
        TITLE = "title", _("Conversation title")

    turn = models.ForeignKey(
        "conversations.Turn",
        verbose_name=_("turn"),
        on_delete=models.CASCADE,
        related_name="redactions",
    )
    # Kept when the person is deleted: the record says that a redaction happened.
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("redacted by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    part = models.CharField(_("part"), max_length=16, choices=Part.choices)
    chars = models.PositiveIntegerField(
        _("characters"), help_text=_("Characters removed, all occurrences.")
    )
    occurrences = models.PositiveIntegerField(_("occurrences"))
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("redaction")
        verbose_name_plural = _("redactions")
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.part} of {self.turn_id}: {self.chars} chars"


class TraceSignals(models.Model):
    """Reasoning-aware signals of an ended assistant turn (review/signals.py), written
    once when it ends, so the list shows and filters them without reading reasoning.
    They describe the turn as it ended: a later redaction or purge leaves them."""

    turn = models.OneToOneField(
        "conversations.Turn",
        verbose_name=_("turn"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="signals",
    )
    reasoning_chars = models.PositiveIntegerField(_("reasoning characters"), default=0)
    answer_chars = models.PositiveIntegerField(_("answer characters"), default=0)
    # Reasoning characters per answer character; null when the answer is empty.
    ratio = models.FloatField(_("reasoning / answer"), null=True, blank=True)
    thinking_ms = models.PositiveIntegerField(_("thinking time (ms)"), null=True, blank=True)
    empty_answer = models.BooleanField(_("empty answer after long reasoning"), default=False)
    cut = models.BooleanField(_("reasoning cut or stopped"), default=False)
    looping = models.BooleanField(_("repeated passages"), default=False)
    repeat_share = models.FloatField(_("share of repeated text"), default=0)
    computed = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        verbose_name = _("trace signals")
        verbose_name_plural = _("trace signals")
        # The list's signal orders (review/sorting.py): (number, turn), read either
        # way; the nullable ones partial, as the orders only walk non-null numbers.
        indexes = [
            models.Index(fields=["reasoning_chars", "turn"], name="signals_sort_reasoning"),
            models.Index(
                fields=["thinking_ms", "turn"],
                condition=models.Q(thinking_ms__isnull=False),
                name="signals_sort_thinking",
            ),
            models.Index(
                fields=["ratio", "turn"],
                condition=models.Q(ratio__isnull=False),
                name="signals_sort_ratio",
            ),
        ]

    def __str__(self) -> str:
        return f"signals of {self.turn_id}"
