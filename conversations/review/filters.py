"""The trace list's and the export's query parameters, search and keyset pages.

Parameters (DESIGN): `q`, `model` (`provider/model id`), `user` (username), `team`
(name), `status`, `rating` (`good`, `bad`, or `none` for unrated), `tag`, `since`,
`until` (ISO dates, both inclusive; a full ISO datetime works too). Ours: `provider`,
`min_reasoning` / `max_reasoning` (reasoning tokens), `min_thinking` /
`max_thinking` (thinking time, seconds), `signal` (`empty_answer`, `cut` or
`looping`: the turn's stored `TraceSignals`, review/signals.py), `source` (`chat`,
or `api`: requests to the OpenAI-compatible API), `sort` (one of
review/sorting.py's orders; newest first when absent), `after` (the keyset cursor,
which encodes the order's key).

Every filter narrows `visible_turns(user)`: a filter can never widen what a person
sees, so naming another person or team only ever finds fewer rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connections
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import Source, Turn
from conversations.review import sorting
from conversations.review.models import Review, ReviewTag

PAGE_SIZE = 50
TEXT_PARAMS = (
    "q",
    "provider",
    "model",
    "user",
    "team",
    "status",
    "rating",
    "tag",
    "signal",
    "source",
)
SIGNALS = ("empty_answer", "cut", "looping")
RANGE_PARAMS = ("min_reasoning", "max_reasoning", "min_thinking", "max_thinking")
DATE_PARAMS = ("since", "until")
PARAMS = TEXT_PARAMS + DATE_PARAMS + RANGE_PARAMS + ("sort",)
MAX_SEARCH_WORDS = 32
MAX_SEARCH_CHARS = 200

# Scripts written without spaces: the 'simple' parser keeps a whole run as one token,
# so a word inside it would never match; such queries search by substring, narrowed
# on PostgreSQL by the texts' CJK bigrams.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_CJK_RUN = re.compile(_CJK.pattern + "+")
# Migration 0009's stored columns (PostgreSQL only, unknown to the ORM): the words and
# the CJK bigrams of an ended assistant turn's reasoning and answer, NULL while it runs.
_WORDS = '"conversations_turn"."search_words"'
_BIGRAMS = '"conversations_turn"."search_cjk"'


class BadFilter(ValueError):
    """A parameter the list cannot read; its message is for the person."""


@dataclass
class TraceFilters:
    values: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    ranges: dict[str, float] = field(default_factory=dict)
    sort: sorting.Sort = field(default_factory=lambda: sorting.get(None))
    note: str = ""  # what the list did to the parameters, for the person

    @classmethod
    def from_params(cls, params: Any) -> TraceFilters:
        found = cls()
        for name in PARAMS:
            value = (params.get(name) or "").strip()
            if value:
                found.values[name] = value
        if "q" in found.values:
            found.values["q"], found.note = _bounded_search(found.values["q"])
        if "rating" in found.values and found.values["rating"] not in ("good", "bad", "none"):
            raise BadFilter(_("Rating must be good, bad or none."))
        if "signal" in found.values and found.values["signal"] not in SIGNALS:
            raise BadFilter(_("Signal must be empty_answer, cut or looping."))
        if "source" in found.values and found.values["source"] not in Source.values:
            raise BadFilter(_("Source must be chat or api."))
        try:
            found.sort = sorting.get(found.values.get("sort"))
        except ValueError:
            raise BadFilter(_("Unknown sort order.")) from None
        if found.values.get("sort") == sorting.DEFAULT:
            del found.values["sort"]  # the default needs no parameter
        if "since" in found.values:
            found.since = _moment(found.values["since"], end=False)
        if "until" in found.values:
            found.until = _moment(found.values["until"], end=True)
        for name in RANGE_PARAMS:
            if name in found.values:
                try:
                    found.ranges[name] = float(found.values[name])
                except ValueError:
                    raise BadFilter(_("%(name)s must be a number.") % {"name": name}) from None
        return found

    def apply(self, turns: QuerySet[Turn]) -> QuerySet[Turn]:
        v = self.values
        if "q" in v:
            turns = search(turns, v["q"])
        if "provider" in v:
            turns = turns.filter(model__startswith=v["provider"] + "/")
        if "model" in v:
            turns = turns.filter(model=v["model"])
        if "user" in v:
            turns = turns.filter(conversation__owner__username=v["user"])
        if "team" in v:
            turns = turns.filter(conversation__owner__teams__name=v["team"])
        if "status" in v:
            turns = turns.filter(status=v["status"])
        if "source" in v:  # chat, or requests to the OpenAI-compatible API
            turns = turns.filter(conversation__source=v["source"])
        if v.get("rating") == "none":
            turns = turns.exclude(Exists(_reviews().exclude(rating="")))
        elif "rating" in v:
            turns = turns.filter(Exists(_reviews().filter(rating=v["rating"])))
        if "tag" in v:
            tags = ReviewTag.objects.filter(review__turn=OuterRef("pk"), name=v["tag"])
            turns = turns.filter(Exists(tags))
        if "signal" in v:
            # A join on the one-to-one's key: the keyset order stays the turns' index.
            turns = turns.filter(**{f"signals__{v['signal']}": True})
        if self.since is not None:
            turns = turns.filter(created__gte=self.since)
        if self.until is not None:
            turns = turns.filter(created__lt=self.until)
        r = self.ranges
        if "min_reasoning" in r:
            turns = turns.filter(usage__reasoning_tokens__gte=r["min_reasoning"])
        if "max_reasoning" in r:
            turns = turns.filter(usage__reasoning_tokens__lte=r["max_reasoning"])
        if "min_thinking" in r:
            turns = turns.filter(timings__reasoning_duration__gte=r["min_thinking"] * 1000)
        if "max_thinking" in r:
            turns = turns.filter(timings__reasoning_duration__lte=r["max_thinking"] * 1000)
        return turns


def _reviews() -> QuerySet[Review]:
    return Review.objects.filter(turn=OuterRef("pk"))


def _moment(text: str, *, end: bool) -> datetime | None:
    """An ISO date (the whole day: `until` includes it) or datetime, made aware and
    in UTC. None where that falls outside what a datetime holds (the day after
    9999-12-31, or year 1 seen from UTC): before or after every turn, no bound."""
    whole_day = False
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadFilter(_("Dates must be ISO dates, such as 2026-01-31.")) from None
    else:
        moment, whole_day = datetime.combine(day, time.min), end
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if whole_day:
            moment += timedelta(days=1)
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _bounded_search(query: str) -> tuple[str, str]:
    """The query cut to MAX_SEARCH_WORDS words and MAX_SEARCH_CHARS characters, and
    what was cut, in words. Each word is a condition over two texts: a thousand of
    them took seconds, and SQLite refuses so deep an expression tree."""
    words = query.split()
    bounded = " ".join(words[:MAX_SEARCH_WORDS])
    if len(bounded) > MAX_SEARCH_CHARS:
        note = _("Only the first %(count)s characters of a search are used.")
        return bounded[:MAX_SEARCH_CHARS].strip(), note % {"count": MAX_SEARCH_CHARS}
    if len(words) > MAX_SEARCH_WORDS:
        note = _("Only the first %(count)s words of a search are used.")
        return bounded, note % {"count": MAX_SEARCH_WORDS}
    return query, ""


def search(turns: QuerySet[Turn], query: str) -> QuerySet[Turn]:
    """Full text over reasoning and answer: every word must occur. On PostgreSQL a
    turn is found once it has ended (its search columns are filled in then)."""
    words = query.split()
    if connections[turns.db].vendor != "postgresql":
        for word in words:
            turns = turns.filter(Q(reasoning_content__icontains=word) | Q(content__icontains=word))
        return turns
    spaced = [word for word in words if not _CJK.search(word)]
    unspaced = [word for word in words if _CJK.search(word)]
    if spaced:
        match = "plainto_tsquery('simple'::regconfig, %s)"
        turns = turns.filter(_sql(f"{_WORDS} @@ {match}", " ".join(spaced)))
    if unspaced:
        # Every bigram of every CJK run occurs somewhere; then the exact substring.
        # strpos(), not LIKE: the planner guesses a LIKE '%…%' matches almost nothing,
        # and for a common word it then read every candidate's text instead of
        # walking the newest turns until a page is full (11 s against 0.1 s).
        turns = turns.filter(_sql(f"{_BIGRAMS} @@ %s::tsquery", _bigram_query(query)))
        for word in unspaced:
            turns = turns.filter(_contains(word))
    return turns


def _contains(word: str) -> RawSQL:
    """The word in the answer or the reasoning (the shorter text first). Folded to
    lower case only when it has letters with a case: lower() copies a text that
    is 15 KB on average, a third of the test's cost on each row a search reads."""
    answer, reasoning = '"conversations_turn"."content"', '"conversations_turn"."reasoning_content"'
    if word.lower() != word.upper():
        answer, reasoning, word = f"lower({answer})", f"lower({reasoning})", word.lower()
    return _sql(f"(strpos({answer}, %s) > 0 OR strpos({reasoning}, %s) > 0)", word, word)


def _sql(condition: str, *params: str) -> RawSQL:
    return RawSQL(condition, list(params), output_field=BooleanField())


def _bigram_query(query: str) -> str:
    """'推理模型 好' -> "'推理' & '理模' & '模型' & '好':*": every adjacent pair of each
    CJK run; a lone character is the prefix of the tokens it starts or ends."""
    terms: list[str] = []
    for run in _CJK_RUN.findall(query):
        if len(run) == 1:
            terms.append(f"'{run}':*")
        terms += [f"'{run[i : i + 2]}'" for i in range(len(run) - 1)]
    return " & ".join(dict.fromkeys(terms))


def with_filters(url_name: str, values: Mapping[str, str], *args: Any) -> str:
    """A review page's URL (`args` for its path) carrying the list's parameters, so
    that the list, its queue, charts and exports all keep what the person chose."""
    query = urlencode(dict(values))
    return reverse(url_name, args=args or None) + ("?" + query if query else "")


# --- keyset pages -------------------------------------------------------------


def page(
    turns: QuerySet[Turn], after: str | None, size: int = 0, sort: sorting.Sort | None = None
) -> tuple[list[Turn], str]:
    """One page in the order (newest first by default) and the cursor of the next
    ('' on the last page)."""
    size, sort = size or PAGE_SIZE, sort or sorting.get(None)
    try:
        start = sorting.decode(after, sort) if after else None
    except sorting.BadCursor as exc:
        raise BadFilter(str(exc)) from None
    rows = sorting.walk(turns, sort, start, size + 1)
    if len(rows) > size:
        return rows[:size], sorting.encode(sorting.position(rows[size - 1], sort))
    return rows, ""
