"""What a trace shows beyond its row: the context sent upstream and its reviews.

Both are read for a batch of turns at once (one query for the batch's
conversations, one for their reviews), so a page or an export chunk costs a fixed
number of queries, not one per turn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch

from conversations.context import build_context
from conversations.models import Turn
from conversations.plans import path_to
from conversations.review.models import Review, ReviewTag
from providers.clients.base import Message


def contexts(turns: Iterable[Turn]) -> dict[Any, list[Message]]:
    """Turn id -> the messages its request carried: the path from the root to its user
    turn, through the one context builder (so no reasoning, by construction)."""
    turns = list(turns)
    trees: dict[Any, list[Turn]] = defaultdict(list)
    rows = (
        Turn.objects.filter(conversation_id__in={t.conversation_id for t in turns})
        .only("id", "conversation_id", "parent_id", "index", "role", "status", "content")
        .order_by("conversation_id", "index")
    )
    for row in rows:
        trees[row.conversation_id].append(row)
    found: dict[Any, list[Message]] = {}
    for turn in turns:
        path = path_to(trees[turn.conversation_id], turn.parent_id)
        try:
            found[turn.id] = build_context(path)
        except ValueError:  # no user turn before it (data from before branching)
            found[turn.id] = []
    return found


def reviews(turns: Iterable[Turn]) -> dict[Any, list[Review]]:
    """Turn id -> its reviews (each with reviewer and tags), oldest first."""
    found: dict[Any, list[Review]] = defaultdict(list)
    rows = (
        Review.objects.filter(turn_id__in=[t.id for t in turns])
        .select_related("reviewer")
        .prefetch_related(Prefetch("tags", queryset=ReviewTag.objects.order_by("name")))
        .order_by("created", "id")
    )
    for review in rows:
        found[review.turn_id].append(review)
    return found


def summary(turn_reviews: list[Review]) -> dict[str, Any]:
    """The export's `rating`, `tags` and `notes` from a turn's reviews.

    `rating`: null when nobody rated, else the verdict counts and the mean score;
    `tags`: every tag any reviewer gave, sorted, once; `notes`: one object per review
    (reviewer, rating, score, tags, note, updated), so each voice is kept."""
    rated = [r for r in turn_reviews if r.rating or r.score]
    scores = [r.score for r in turn_reviews if r.score]
    rating = None
    if rated:
        rating = {
            "good": sum(r.rating == Review.Rating.GOOD for r in turn_reviews),
            "bad": sum(r.rating == Review.Rating.BAD for r in turn_reviews),
            "score": round(sum(scores) / len(scores), 2) if scores else None,
        }
    tags = sorted({tag.name for r in turn_reviews for tag in r.tags.all()})
    notes = [
        {
            "reviewer": r.reviewer.get_username(),
            "rating": r.rating or None,
            "score": r.score,
            "tags": [tag.name for tag in r.tags.all()],
            "note": r.note,
            "updated": r.updated.isoformat(),
        }
        for r in turn_reviews
    ]
    return {"rating": rating, "tags": tags, "notes": notes}


def answer_tokens(usage: dict[str, Any] | None) -> int | None:
    """Completion tokens that were answer, not reasoning (None when unknown)."""
    if not usage or usage.get("completion_tokens") is None:
        return None
    return int(usage["completion_tokens"]) - int(usage.get("reasoning_tokens") or 0)
