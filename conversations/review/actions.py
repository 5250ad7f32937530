"""The review's writes: judgements and the retention purge (redactions: redaction.py).

Like conversations/actions.py, each is one transaction. Purging a turn rewrites its
text, so it skips a running turn (its runner would write the old text back at the
next checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Length
from django.utils import timezone

from accounts.teams import Team
from conversations.models import Turn
from conversations.review.models import Review, ReviewTag

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
