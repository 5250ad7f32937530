"""The review's writes: judgements, redactions and the retention purge.

Like conversations/actions.py, each is one transaction. Redacting or purging a turn
rewrites its text, so a running turn is refused (its runner would write the old
text back at the next checkpoint) and purge skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.teams import Team
from conversations.models import Turn
from conversations.review.models import Redaction, Review, ReviewTag

REDACTED = "[redacted]"


class RedactError(ValueError):
    """A redaction that cannot be done; the message is for the person."""


MAX_TAGS = 20


def parse_tags(text: str) -> list[str]:
    """Comma-separated, trimmed, lower-cased, unique, in the order given."""
    tags: list[str] = []
    for raw in text.split(","):
        tag = " ".join(raw.split()).lower()[:50]
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


@transaction.atomic
def rate(turn: Turn, reviewer: Any, rating: str, score: int | None, tags: list[str], note: str):  # type: ignore[no-untyped-def]
    """Create or replace this person's review of the turn."""
    review, _created = Review.objects.update_or_create(
        turn=turn,
        reviewer=reviewer,
        defaults={"rating": rating, "score": score, "note": note, "updated": timezone.now()},
    )
    review.tags.exclude(name__in=tags).delete()
    have = set(review.tags.values_list("name", flat=True))
    ReviewTag.objects.bulk_create([ReviewTag(review=review, name=t) for t in tags if t not in have])
    return review


def redact(turn_id: Any, by: Any, part: str, passage: str) -> Redaction:
    """Replace every occurrence of `passage` in the part with [redacted]; the original
    is not kept anywhere (the record holds only its length)."""
    if part not in Redaction.Part.values:
        raise RedactError(_("Choose the reasoning or the answer."))
    if not passage.strip():
        raise RedactError(_("Paste or select the passage to redact."))
    field = "reasoning_content" if part == Redaction.Part.REASONING else "content"
    with transaction.atomic():
        turn = Turn.objects.select_for_update().get(pk=turn_id)
        if turn.status == Turn.Status.STREAMING:
            raise RedactError(_("This turn is still running; redact it once it ends."))
        text = getattr(turn, field)
        count = text.count(passage)
        if not count:
            raise RedactError(_("That passage is not in the text (it must match exactly)."))
        setattr(turn, field, text.replace(passage, REDACTED))
        turn.save(update_fields=[field])
        record = Redaction.objects.create(
            turn=turn, by=by, part=part, chars=len(passage) * count, occurrences=count
        )
        transaction.on_commit(lambda: forget_log(str(turn.id)))
    return record


def forget_log(turn_id: str) -> None:
    """Drop the turn's event log (kept CHAT_LOG_RETENTION_SECONDS after it ends), so a
    late `resume` cannot replay the text a redaction or purge removed."""
    from conversations.live import turnlog

    turnlog.forget(turn_id)


@dataclass
class Purged:
    team: str
    days: int
    turns: int
    chars: int


def purge(dry_run: bool = False, now: Any = None) -> list[Purged]:
    """Each team's reasoning retention: erase the reasoning of its members' assistant
    turns created more than N days ago (the answer stays). Re-running finds nothing
    new; a person in two teams gets the shorter of their retentions."""
    now = now or timezone.now()
    done: list[Purged] = []
    for team in Team.objects.filter(reasoning_retention_days__isnull=False).order_by("name"):
        days = team.reasoning_retention_days or 0
        old = (
            Turn.objects.filter(
                role=Turn.Role.ASSISTANT,
                conversation__owner__in=team.members.all(),
                created__lt=now - timedelta(days=days),
            )
            .exclude(reasoning_content="")
            .exclude(status=Turn.Status.STREAMING)
        )
        if dry_run:
            found = old.aggregate(turns=Count("id"), chars=Sum(Length("reasoning_content")))
            done.append(Purged(team.name, days, found["turns"], found["chars"] or 0))
            continue
        turns = chars = 0
        while True:  # in batches: memory and lock time stay bounded on any table size
            batch = list(old.annotate(n=Length("reasoning_content")).values_list("id", "n")[:500])
            if not batch:
                break
            with transaction.atomic():
                erased = old.filter(id__in=[i for i, _n in batch]).update(reasoning_content="")
            if not erased:
                break
            turns += erased
            chars += sum(n for _i, n in batch)
        done.append(Purged(team.name, days, turns, chars))
    return done
