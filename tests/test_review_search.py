"""Chinese search in the trace list, on SQLite and PostgreSQL alike; on PostgreSQL,
served by the CJK bigram index of migration 0009."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client

from conversations.models import Turn
from conversations.review import filters as review_filters
from conversations.review.visibility import visible_turns
from tests.review_data import client_for, plan_among_fillers, trace

pytestmark = pytest.mark.django_db


def found(client: Client, q: str) -> set[str]:
    response = client.get("/review/", {"q": q})
    assert response.status_code == 200, response.content[:500]
    return set(re.findall(r'data-trace="([0-9a-f-]{36})"', response.content.decode()))


def test_chinese_words_of_any_length_and_mixed_queries(team):  # type: ignore[no-untyped-def]
    reasoning = trace(team.owner, reasoning="首先检查推理模型的输出，然后再看一下。", answer="OK")
    answer = trace(team.owner, reasoning="Let me think.", answer="梯度下降")
    # Every bigram of 推理模型 is here, never adjacent as a whole: not a match.
    scattered = trace(team.owner, reasoning="推理很好。理模不对。模型也行。", answer="Python")
    client = client_for(team.owner)
    r, a, s = str(reasoning.id), str(answer.id), str(scattered.id)
    assert found(client, "推理模型") == {r}
    assert found(client, "推理") == {r, s}  # two characters: most Chinese words
    assert found(client, "梯度下降") == {a}  # in the answer
    assert found(client, "降") == {a}  # one character, the last of its run
    assert found(client, "梯") == {a}  # one character, the first of its run
    assert found(client, "推理 输出") == {r}  # every word must occur
    assert found(client, "模型 python") == {s}  # English words as words, any case
    assert found(client, "推理 zebra") == set()
    assert found(client, "微分") == set()


def test_chinese_search_respects_visibility(team):  # type: ignore[no-untyped-def]
    mine = trace(team.owner, reasoning="我们先计算积分。")
    trace(team.other_reviewer, reasoning="我们先计算积分。")  # Blue's: not Red's business
    assert found(client_for(team.owner), "积分") == {str(mine.id)}
    assert found(client_for(team.outsider), "积分") == set()
    assert len(found(client_for(team.root), "积分")) == 2


def test_bigram_query() -> None:
    assert review_filters._bigram_query("推理模型") == "'推理' & '理模' & '模型'"
    assert review_filters._bigram_query("好 GPT推理") == "'好':* & '推理'"
    assert review_filters._bigram_query("推理 推理") == "'推理'"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bigram index is PostgreSQL's")
def test_postgresql_chinese_search_uses_the_bigram_index(team):  # type: ignore[no-untyped-def]
    first = trace(team.owner, reasoning="这是关于瑞利散射的推理。")
    turns = review_filters.search(visible_turns(team.root), "瑞利散射")
    plan = plan_among_fillers(first, turns, "填充答案", "填充的思考")
    assert "turn_search_cjk" in plan, plan
    assert list(turns) == [first]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search columns are PostgreSQL's")
def test_postgresql_search_columns_fill_in_when_a_turn_ends(team):  # type: ignore[no-untyped-def]
    # NULL while the turn streams, so checkpoints do not recompute them; filled in by
    # the write that ends it, and again by one that changes its text (a redaction).
    turn = trace(team.owner, reasoning="瑞利散射 rayleigh", status=Turn.Status.STREAMING)

    def columns() -> tuple[bool, bool]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT search_words IS NOT NULL, search_cjk IS NOT NULL"
                " FROM conversations_turn WHERE id = %s",
                [turn.id],
            )
            return cursor.fetchone()

    assert columns() == (False, False)
    assert list(review_filters.search(visible_turns(team.root), "rayleigh")) == []
    Turn.objects.filter(id=turn.id).update(status=Turn.Status.COMPLETED)
    assert columns() == (True, True)
    assert list(review_filters.search(visible_turns(team.root), "rayleigh")) == [turn]
    assert list(review_filters.search(visible_turns(team.root), "散射")) == [turn]
    Turn.objects.filter(id=turn.id).update(reasoning_content="瑞利 [redacted]")
    assert list(review_filters.search(visible_turns(team.root), "rayleigh")) == []


def test_a_word_mixing_chinese_and_letters_matches_in_any_case(team):  # type: ignore[no-untyped-def]
    turn = trace(team.owner, reasoning="先看 r1模型 的输出。", answer="OK")
    client = client_for(team.owner)
    assert found(client, "R1模型") == {str(turn.id)}
    assert found(client, "R2模型") == set()
