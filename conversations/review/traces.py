"""What a trace shows beyond its row: the context sent upstream, its reviews and its
web-search references.

Both are read for a batch of turns at once (one query for the batch's
conversations, one for their reviews), so a page or an export chunk costs a fixed
number of queries, not one per turn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy

from conversations.context import ModelHints, build_context
from conversations.models import Turn
from conversations.plans import path_to
from conversations.review.models import Review, ReviewTag
from providers.wire import Message


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
        if turn.request_messages is not None:  # an API request's: kept as sent
            found[turn.id] = [Message(**m) for m in turn.request_messages]
            continue
        path = path_to(trees[turn.conversation_id], turn.parent_id)
        try:
            # The inputs its plan gave the builder, as kept on the turn: the
            # conversation's prompt and the model's hints may have changed since.
            found[turn.id] = build_context(
                path, system_prompt=turn.system_prompt, hints=ModelHints.from_json(turn.hints)
            )
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


def references(stored: Any) -> list[dict[str, Any]]:
    """A turn's stored web-search sources as the trace page lists them: `href` only
    for an absolute http(s) URL (anything else is shown as text, never linked),
    `title` falling back to the site or the URL, `date` from `publish_time` (a
    string as sent, or epoch seconds)."""
    items = []
    for item in stored if isinstance(stored, list) else []:
        if not isinstance(item, dict):
            continue
        text = {k: _text(item.get(k)) for k in ("title", "url", "site_name", "summary")}
        href = text["url"] if _http_url(text["url"]) else ""
        items.append(
            {
                "title": text["title"] or text["site_name"] or text["url"],
                "href": href,
                "url": text["url"],
                "site_name": text["site_name"],
                "summary": text["summary"],
                "date": _date(item.get("publish_time")),
            }
        )
    return items


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _date(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M")
        except (OverflowError, OSError, ValueError):
            return ""
    return ""


_SYSTEM_ROLE = gettext_lazy("system")


def status_label(value: str) -> str:
    """A turn status in the reader's language; an unknown value as it is."""
    try:
        return str(Turn.Status(value).label)
    except ValueError:
        return value


def role_label(value: str) -> str:
    """A message role (`system`, `user`, `assistant`) in the reader's language."""
    if value == "system":
        return str(_SYSTEM_ROLE)
    try:
        return str(Turn.Role(value).label)
    except ValueError:
        return value
