"""The trace list's orders (`sort=`): every order pages by keyset with every row once,
in order, turns without the number last; the column headers; the plain previews.
Runs on SQLite and PostgreSQL alike (the index test on PostgreSQL only)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Turn
from conversations.review import export as review_export
from conversations.review import filters as review_filters
from conversations.review import plain, sorting
from conversations.review.models import TraceSignals
from conversations.review.visibility import visible_turns
from tests.review_data import client_for, trace

pytestmark = pytest.mark.django_db

IDS = re.compile(r'data-trace="([0-9a-f-]{36})"')


def walked(client: Any, url: str) -> list[str]:
    """Every row of every page, following the next links."""
    seen: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        html = response.content.decode()
        seen += IDS.findall(html)
        found = re.search(r'href="(\?[^"]*)" rel="next"', html)
        url = "/review/" + found.group(1).replace("&amp;", "&") if found else ""
    return seen


def mixed_traces(owner: Any) -> list[Turn]:
    """Turns whose numbers tie, are null, or are missing (no signals row at all),
    several at one timestamp: what breaks a careless keyset."""
    now = timezone.now() - timedelta(hours=1)
    made = []
    specs = [
        # (reasoning chars, thinking ms or None, answer: ratio null when empty)
        (300, 5000, "a" * 100),
        (300, 5000, "b" * 100),  # ties with the first on every number
        (900, None, "c" * 30),
        (50, 800, ""),  # no answer: no ratio
        (1200, 12000, "d" * 400),
        (300, 2000, "e" * 10),
        (700, None, ""),
    ]
    for i, (chars, thinking, answer) in enumerate(specs):
        turn = trace(
            owner,
            reasoning="r" * chars,
            answer=answer,
            created=now - timedelta(minutes=i // 2),  # pairs share a timestamp
        )
        TraceSignals.objects.create(
            turn=turn,
            reasoning_chars=chars,
            answer_chars=len(answer),
            ratio=chars / len(answer) if answer else None,
            thinking_ms=thinking,
        )
        made.append(turn)
    for i in range(3):  # running or from before the signals: no row
        made.append(trace(owner, created=now - timedelta(minutes=i), status=Turn.Status.STREAMING))
    return made


def expected(turns: list[Turn], sort: sorting.Sort) -> list[str]:
    def created_desc(rows: list[Turn]) -> list[Turn]:
        return sorted(rows, key=lambda t: (t.created, t.id.int), reverse=True)

    if sort.key is None:
        rows = created_desc(turns)
        return [str(t.id) for t in (rows if sort.descending else rows[::-1])]
    numbers = {s.turn_id: getattr(s, sort.key) for s in TraceSignals.objects.all()}
    keyed = [t for t in turns if numbers.get(t.id) is not None]
    rest = [t for t in turns if numbers.get(t.id) is None]
    keyed.sort(key=lambda t: (numbers[t.id], t.id.int), reverse=sort.descending)
    return [str(t.id) for t in keyed + created_desc(rest)]


@pytest.mark.parametrize("name", list(sorting.SORTS))
def test_every_order_pages_every_row_once_in_order(team, monkeypatch, name):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(review_filters, "PAGE_SIZE", 3)
    made = mixed_traces(team.owner)
    trace(team.outsider)  # never listed for alice
    url = "/review/" + ("" if name == "newest" else f"?sort={name}")
    seen = walked(client_for(team.owner), url)
    assert seen == expected(made, sorting.get(name))


@pytest.mark.parametrize("name", ["oldest", "longest_reasoning", "highest_ratio"])
def test_the_export_follows_the_lists_order(team, monkeypatch, name):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(review_export, "CHUNK", 2)  # chunk boundaries inside ties
    made = mixed_traces(team.owner)
    response = client_for(team.owner).get("/review/export.jsonl", {"sort": name})
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert [json.loads(line)["turn"] for line in body.splitlines()] == expected(
        made, sorting.get(name)
    )


@pytest.mark.parametrize("name", list(sorting.SORTS))
def test_every_order_walks_backwards_too(team, name):  # type: ignore[no-untyped-def]
    made = mixed_traces(team.owner)
    sort = sorting.get(name)
    turns = visible_turns(team.owner).select_related("signals")
    forward = sorting.walk(turns, sort, None, 100)
    assert [str(t.id) for t in forward] == expected(made, sort)
    # From each row, one step back is the row before it; one step on, the row after.
    for i, turn in enumerate(forward):
        at = sorting.position(turn, sort)
        back = sorting.walk(turns, sort, at, 1, backward=True)
        on = sorting.walk(turns, sort, at, 1)
        assert back == forward[i - 1 : i] if i else back == []
        assert on == forward[i + 1 : i + 2]


def test_next_link_keeps_sort_and_filters_and_bad_values_are_400(team, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(review_filters, "PAGE_SIZE", 2)
    mixed_traces(team.owner)
    client = client_for(team.owner)
    html = client.get("/review/", {"sort": "longest_thinking", "status": "completed"}).content
    link = re.search(rb'href="(\?[^"]*)" rel="next"', html)
    assert link and b"sort=longest_thinking" in link.group(1)
    assert b"status=completed" in link.group(1)
    assert client.get("/review/", {"sort": "loudest"}).status_code == 400
    # A cursor of one order is not silently read as another's position.
    assert client.get("/review/", {"sort": "highest_ratio", "after": "azEyfHg"}).status_code == 400


def test_column_headers_sort_and_say_which_way(team):  # type: ignore[no-untyped-def]
    trace(team.owner)
    client = client_for(team.owner)
    html = client.get("/review/", {"model": "fake/fake-r1"}).content.decode()
    assert 'aria-sort="descending"' in html  # newest first: the date column
    assert "?model=fake%2Ffake-r1&amp;sort=oldest" in html
    assert "?model=fake%2Ffake-r1&amp;sort=longest_reasoning" in html
    html = client.get("/review/", {"sort": "longest_reasoning"}).content.decode()
    assert "?sort=shortest_reasoning" in html  # a second click reverses
    assert re.search(r'aria-sort="descending"><a[^>]*sort=shortest_reasoning', html)
    assert 'href="?"' not in html and "?sort=newest" not in html  # the default has no parameter


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans are PostgreSQL's")
@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("longest_reasoning", "signals_sort_reasoning"),
        ("shortest_thinking", "signals_sort_thinking"),
        ("highest_ratio", "signals_sort_ratio"),
        ("oldest", "turn_assistant_recent"),
    ],
)
def test_postgresql_orders_walk_an_index(team, name, index):  # type: ignore[no-untyped-def]
    first = trace(team.owner)
    turns = Turn.objects.bulk_create(
        Turn(
            conversation=first.conversation, index=10 + i, parent=first, role=Turn.Role.ASSISTANT,
            content="x" * (i % 50), reasoning_content="y", status=Turn.Status.COMPLETED,
            created=timezone.now() - timedelta(minutes=i),
        )
        for i in range(3000)
    )  # fmt: skip
    TraceSignals.objects.bulk_create(
        TraceSignals(
            turn=t, reasoning_chars=i % 997, answer_chars=i % 50, thinking_ms=i * 7 % 5000,
            ratio=(i % 997) / (i % 50) if i % 50 else None,
        )
        for i, t in enumerate(turns)
    )  # fmt: skip
    sort = sorting.get(name)
    page = sorting._numbered if sort.key else sorting._dated
    qs = visible_turns(team.root).select_related("conversation__owner", "signals")
    query = page(qs, sort.key, sort.descending, None) if sort.key else page(qs, False, None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_turn")
        cursor.execute("ANALYZE conversations_tracesignals")
        sql, params = query[:51].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
    assert "Sort  (" not in plan, plan  # the index gives the order: no sort of the set


def test_list_previews_are_plain_text(team):  # type: ignore[no-untyped-def]
    trace(
        team.owner,
        answer="## Result\n\nThe integral equals **1**, see [the notes](http://x.example/n).",
        reasoning="- first `ln x`\n- then *evaluate*\n\n```python\nprint(1)\n```",
    )
    html = client_for(team.owner).get("/review/").content.decode()
    answer = re.search(r'data-preview="answer">([^<]*)<', html)
    reasoning = re.search(r'data-preview="reasoning">([^<]*)<', html)
    assert answer and answer.group(1) == "Result The integral equals 1, see the notes."
    assert reasoning and reasoning.group(1) == "first ln x then evaluate print(1)"


def test_preview_is_bounded_and_marks_a_cut() -> None:
    long = "word " * 10_000
    short = plain.preview(long)
    assert len(short) <= plain.PREVIEW_CHARS and short.endswith("…")
    assert plain.preview("**bold** and __strong__ and snake_case_name") == (
        "bold and strong and snake_case_name"
    )
    assert plain.preview("> quoted\n\n1. one\n2. two\n\n---\n| a | b |") == "quoted one two a b"
    assert plain.preview("") == ""
