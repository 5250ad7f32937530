"""The review bench's data: N assistant turns on PostgreSQL, written with COPY.

200 people in 20 teams of 10 (the first member of each its reviewer) and a
superuser; conversations of 4 exchanges spread over a year, oldest first (so the
heap is in time order, as a live table's would be); several providers and models,
statuses, usage, timings, `TraceSignals` for every assistant turn, and reviews
with tags on about 5 % of them. Reasoning 2,000–20,000 characters, answers
1,000–5,000, each a mix of English and Chinese paragraphs (review_text.py).

The GIN indexes are dropped before the load and rebuilt after it with the
migrations' own SQL (a GIN kept during a bulk load costs several times more), then
ANALYZE, as autovacuum would.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bench.review_text import TextMaker

USERS, TEAMS, EXCHANGES = 200, 20, 4
MODELS = (
    "deepseek/deepseek-v4-flash",
    "deepseek/deepseek-v4-pro",
    "ark/deepseek-r1",
    "qianfan/deepseek-r1",
    "coreshub/deepseek-v3.2",
    "vllm/Qwen/QwQ-32B",
)
STATUSES = (("completed", 0.9), ("stopped", 0.04), ("failed", 0.04), ("incomplete", 0.02))
TAGS = ("eval-set", "hallucination", "great", "looping", "wrong-math", "off-topic")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def gin_indexes() -> dict[str, str]:
    """Index name -> its CREATE statement, from the migration that builds them."""
    import importlib

    m9 = importlib.import_module("conversations.migrations.0009_turn_search_vectors")
    return {sql.split()[5]: sql for sql in m9.INDEX_SQL if sql.startswith("CREATE INDEX")}


def seeded_turns() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM conversations_turn WHERE role = 'assistant'")
        return int(cursor.fetchone()[0])


def seed(turns: int, log: Any = print) -> dict[str, float]:
    """Empty the bench's tables and write `turns` assistant turns; returns timings."""
    from django.db import connection

    started = time.perf_counter()
    times: dict[str, float] = {}
    rng = random.Random(19)
    maker = TextMaker()
    raw = connection.cursor().connection  # psycopg's own connection, for COPY
    with raw.cursor() as cur:
        cur.execute(
            "TRUNCATE conversations_reviewtag, conversations_review, conversations_tracesignals,"
            " conversations_redaction, conversations_turn, conversations_conversation,"
            " providers_team_members, providers_team_reviewers, providers_team_models,"
            " providers_team, providers_chatmodel, providers_provider, auth_user CASCADE"
        )
        for name in gin_indexes():
            cur.execute(f"DROP INDEX IF EXISTS {name}")
        user_ids = _people()
        _catalog()
        reviewer_of = {uid: user_ids[(i // 10) * 10] for i, uid in enumerate(user_ids[:USERS])}
        times["text pool (s)"] = time.perf_counter() - started
        load = time.perf_counter()
        assistant_ids = _conversations(cur, rng, maker, turns, user_ids[:USERS], log)
        times["COPY turns (s)"] = time.perf_counter() - load
        _reviews(cur, rng, assistant_ids, reviewer_of)
        raw.commit()
        times.update(_build(gin_indexes(), connection.settings_dict, log))
        analyze = time.perf_counter()
        cur.execute("ANALYZE")
        raw.commit()
        times["ANALYZE (s)"] = time.perf_counter() - analyze
    times["total (s)"] = time.perf_counter() - started
    return times


def _build(indexes: dict[str, str], db: dict[str, Any], log: Any) -> dict[str, float]:
    """The GIN indexes, each on its own connection at the same time (PostgreSQL 15
    builds a GIN on one core)."""
    import threading

    import psycopg

    times: dict[str, float] = {}

    def build(name: str, sql: str) -> None:
        started = time.perf_counter()
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"],
            password=db["PASSWORD"] or None, autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute(sql)
        times[f"build {name} (s)"] = time.perf_counter() - started
        log(f"  built {name} in {times[f'build {name} (s)']:.0f} s")

    threads = [threading.Thread(target=build, args=item) for item in indexes.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def _people() -> list[int]:
    """The people (ids: USERS members, then the superuser) and the teams, through the
    ORM (a few hundred rows; fields other helpers add get their defaults)."""
    from django.contrib.auth import get_user_model

    from accounts.teams import Team

    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"u{i:03d}", password="!") for i in range(USERS)]
        + [User(username="root", password="!", is_superuser=True, is_staff=True)]
    )
    for t in range(TEAMS):
        team = Team.objects.create(name=f"team-{t:02d}")
        team.members.add(*users[t * 10 : t * 10 + 10])
        team.reviewers.add(users[t * 10])
    return [u.pk for u in users]


def _catalog() -> None:
    """Providers and models, as the list's model menu reads them."""
    from providers.models import ChatModel, Provider

    for model in MODELS:
        name, model_id = model.split("/", 1)
        provider, _ = Provider.objects.get_or_create(
            name=name, defaults={"style": "chat-completions", "base_url": "http://127.0.0.1:9"}
        )
        ChatModel.objects.create(provider=provider, model_id=model_id)


def _copy_sql(model: Any, given: str) -> tuple[str, tuple[Any, ...]]:
    """COPY into `model`'s table: the `given` columns, then every other concrete column
    with its field's default (so a column added later does not break the seed)."""
    from django.db.models.fields import AutoFieldMixin

    names = [c.strip() for c in given.split(",")]
    extra, values = [], []
    for f in model._meta.concrete_fields:
        if f.column in names or isinstance(f, AutoFieldMixin):
            continue
        value = f.get_default()
        extra.append(f.column)
        values.append(json.dumps(value) if isinstance(value, dict | list) else value)
    columns = ", ".join(f'"{c}"' for c in names + extra)
    return f"COPY {model._meta.db_table} ({columns}) FROM STDIN", tuple(values)


def _conversations(
    cur: Any, rng: random.Random, maker: TextMaker, turns: int, users: list[int], log: Any
) -> list[tuple[uuid.UUID, int]]:
    """Conversations of EXCHANGES question/answer pairs, oldest first; returns the
    assistant turns' (id, owner)."""
    conversations = -(-turns // EXCHANGES)
    span = timedelta(days=365).total_seconds()
    start = NOW - timedelta(days=365)
    assistants: list[tuple[uuid.UUID, int]] = []
    signals: list[tuple[Any, ...]] = []
    from conversations.models import Conversation, Turn
    from conversations.review.models import TraceSignals

    conv_sql, conv_extra = _copy_sql(Conversation, "id, owner_id, title, created, updated")
    turn_sql, turn_extra = _copy_sql(
        Turn,
        "id, conversation_id, index, parent_id, role, content, reasoning_content, status,"
        " model, options, usage, timings, error, key_label, attempts, seq, created, finished",
    )
    # One COPY at a time on a connection: the conversations (small) first.
    owners = [rng.choice(users) for _ in range(conversations)]
    conv_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(conversations)]
    began = [start + timedelta(seconds=span * c / conversations) for c in range(conversations)]
    with cur.copy(conv_sql) as copy:
        for c in range(conversations):
            copy.write_row((conv_ids[c], owners[c], f"chat {c}", began[c], began[c], *conv_extra))
    with cur.copy(turn_sql) as turn_copy:
        written = 0
        for c in range(conversations):
            parent = None
            for e in range(min(EXCHANGES, turns - written)):
                at = began[c] + timedelta(minutes=2 * e)
                question_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                question = maker.text(rng.randint(80, 400), rng.random() * 0.6)
                turn_copy.write_row(
                    (question_id, conv_ids[c], 2 * e, parent, "user", question, "",
                     "completed", "", "{}", None, None, None, "", 0, 0, at, at, *turn_extra)
                )  # fmt: skip
                answer_id, row, signal = _assistant(rng, maker, conv_ids[c], question_id, e, at)
                turn_copy.write_row((*row, *turn_extra))
                signals.append(signal)
                assistants.append((answer_id, owners[c]))
                parent = answer_id
                written += 1
            if c % 2500 == 2499:
                log(f"  {written:,} turns")
    signal_sql, signal_extra = _copy_sql(
        TraceSignals,
        "turn_id, reasoning_chars, answer_chars, ratio, thinking_ms, empty_answer, cut,"
        " looping, repeat_share, computed",
    )
    with cur.copy(signal_sql) as copy:
        for signal in signals:
            copy.write_row((*signal, *signal_extra))
    return assistants


def _assistant(
    rng: random.Random, maker: TextMaker, conv_id: uuid.UUID, parent: uuid.UUID, e: int, at: Any
) -> tuple[uuid.UUID, tuple[Any, ...], tuple[Any, ...]]:
    turn_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    share = rng.random() * 0.7  # how much of this turn is Chinese
    reasoning = maker.text(rng.randint(2000, 20000), share)
    status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    empty = status == "completed" and rng.random() < 0.01
    cut = status != "completed" and rng.random() < 0.5
    content = "" if empty or cut else maker.text(rng.randint(1000, 5000), share)
    reasoning_tokens = len(reasoning) // 3
    completion = reasoning_tokens + len(content) // 3
    thinking = rng.randint(2000, 120000)
    usage = {
        "prompt_tokens": rng.randint(50, 4000),
        "completion_tokens": completion,
        "reasoning_tokens": reasoning_tokens,
        "total_tokens": completion + 1000,
    }
    timings = {
        "reasoning_first_token": rng.randint(300, 3000),
        "reasoning_duration": thinking,
        "content_first_token": thinking + 500,
        "total": thinking + rng.randint(1000, 30000),
    }
    error = None
    if status == "failed":
        error = {"code": "upstream_error", "message": "The provider failed.", "detail": "502"}
    row = (
        turn_id, conv_id, 2 * e + 1, parent, "assistant", content, reasoning, status,
        rng.choice(MODELS), "{}", json.dumps(usage), json.dumps(timings),
        json.dumps(error) if error else None, "main", 1, 0, at + timedelta(seconds=1),
        at + timedelta(seconds=timings["total"] / 1000),
    )  # fmt: skip
    looping = rng.random() < 0.02
    signal = (
        turn_id, len(reasoning), len(content),
        len(reasoning) / len(content) if content else None, thinking, empty, cut, looping,
        0.4 if looping else 0.02, at,
    )  # fmt: skip
    return turn_id, row, signal


def _reviews(
    cur: Any, rng: random.Random, assistants: list[tuple[uuid.UUID, int]], reviewer_of: dict
) -> None:
    """About 5 % of the turns reviewed by their team's reviewer, most with a tag."""
    from conversations.review.models import Review, ReviewTag

    review_id = 0
    review_sql, review_extra = _copy_sql(
        Review, "id, rating, score, note, created, updated, reviewer_id, turn_id"
    )
    with cur.copy(review_sql) as copy:
        reviewed = []
        for turn_id, owner in assistants:
            if rng.random() < 0.05:
                review_id += 1
                rating = rng.choice(("good", "bad", ""))
                score = rng.randint(1, 5) if rating else None
                copy.write_row(
                    (
                        review_id,
                        rating,
                        score,
                        "checked",
                        NOW,
                        NOW,
                        reviewer_of[owner],
                        turn_id,
                        *review_extra,
                    )  # fmt: skip
                )
                reviewed.append(review_id)
    tag_sql, tag_extra = _copy_sql(ReviewTag, "review_id, name")
    with cur.copy(tag_sql) as copy:
        for rid in reviewed:
            for tag in rng.sample(TAGS, rng.choice((0, 1, 1, 2))):
                copy.write_row((rid, tag, *tag_extra))
    cur.execute("SELECT setval('conversations_review_id_seq', %s)", [max(review_id, 1)])


def fresh_database(url: str) -> None:
    """Drop and create the bench's database (before django.setup() connects to it):
    seeding starts from the migrations as they are now."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str) -> bool:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None
