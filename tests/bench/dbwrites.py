"""Counting the database writes of one turn, from outside the daphne process.

Row triggers on the turn and conversation tables log every INSERT and UPDATE
with its conversation and time into `bench_write_log`, on SQLite and PostgreSQL
alike; they exist only while this measurement runs. On PostgreSQL the count is
cross-checked against `pg_stat_user_tables` (which a backend flushes when it
exits: the product closes its connections after each use, CONN_MAX_AGE=0).

Sync functions: call them with `asyncio.to_thread` (Django's ORM refuses an event loop).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

_SQLITE_CREATE = [
    "CREATE TABLE IF NOT EXISTS bench_write_log ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT, op TEXT, conv TEXT, at REAL)",
    *[
        f"CREATE TRIGGER IF NOT EXISTS bench_{tbl}_{op} AFTER {op.upper()} ON {table} "
        f"BEGIN INSERT INTO bench_write_log (tbl, op, conv, at) VALUES "
        f"('{tbl}', '{op}', NEW.{conv}, (julianday('now') - 2440587.5) * 86400.0); END"
        for tbl, table, conv in (
            ("turn", "conversations_turn", "conversation_id"),
            ("conversation", "conversations_conversation", "id"),
        )
        for op in ("insert", "update")
    ],
]
_SQLITE_DROP = [
    *[
        f"DROP TRIGGER IF EXISTS bench_{tbl}_{op}"
        for tbl in ("turn", "conversation")
        for op in ("insert", "update")
    ],
    "DROP TABLE IF EXISTS bench_write_log",
]

_PG_CREATE = [
    "CREATE TABLE IF NOT EXISTS bench_write_log ("
    "id bigserial PRIMARY KEY, tbl text, op text, conv text, at double precision)",
    *[
        f"""CREATE OR REPLACE FUNCTION bench_log_{tbl}() RETURNS trigger AS $$
        BEGIN
          INSERT INTO bench_write_log (tbl, op, conv, at)
          VALUES ('{tbl}', lower(TG_OP), NEW.{conv}::text, extract(epoch from clock_timestamp()));
          RETURN NULL;
        END $$ LANGUAGE plpgsql"""
        for tbl, conv in (("turn", "conversation_id"), ("conversation", "id"))
    ],
    *[
        f"CREATE TRIGGER bench_{tbl} AFTER INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION bench_log_{tbl}()"
        for tbl, table in (
            ("turn", "conversations_turn"),
            ("conversation", "conversations_conversation"),
        )
    ],
]
_PG_DROP = [
    "DROP TRIGGER IF EXISTS bench_turn ON conversations_turn",
    "DROP TRIGGER IF EXISTS bench_conversation ON conversations_conversation",
    "DROP FUNCTION IF EXISTS bench_log_turn()",
    "DROP FUNCTION IF EXISTS bench_log_conversation()",
    "DROP TABLE IF EXISTS bench_write_log",
]


def _run(statements: list[str]) -> None:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
    finally:
        connection.close()


def _is_pg() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def install() -> None:
    _run(_PG_CREATE if _is_pg() else _SQLITE_CREATE)


def uninstall() -> None:
    _run(_PG_DROP if _is_pg() else _SQLITE_DROP)


def writes_of(conversation_id: str) -> list[tuple[str, str, float]]:
    """`(table, op, unix time)` of every logged write of one conversation, in order."""
    from django.db import connection

    want = uuid.UUID(conversation_id)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tbl, op, conv, at FROM bench_write_log ORDER BY id")
            rows = cursor.fetchall()
    finally:
        connection.close()
    return [(tbl, op, float(at)) for tbl, op, conv, at in rows if uuid.UUID(str(conv)) == want]


def pg_stat_turn_writes(settle: float = 3.0) -> int | None:
    """`n_tup_ins + n_tup_upd` of the turn table once it stops moving (None off PostgreSQL)."""
    if not _is_pg():
        return None
    import psycopg

    from tests.bench.stack import PG_URL

    def read() -> int:
        # A new connection per read: no cached statistics snapshot.
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            row = conn.execute(
                "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables "
                "WHERE relname = 'conversations_turn'"
            ).fetchone()
        return int(row[0]) if row else 0

    deadline = time.monotonic() + settle
    last = read()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = read()
        if now == last:
            return now
        last = now
    return last


def summarize_writes(writes: list[tuple[str, str, float]], t_end: float | None) -> dict[str, Any]:
    """Counts by kind, and how the turn's updates spread over time."""
    count: dict[str, int] = {}
    for tbl, op, _at in writes:
        count[f"{tbl}_{op}"] = count.get(f"{tbl}_{op}", 0) + 1
    updates = [at for tbl, op, at in writes if tbl == "turn" and op == "update"]
    # Every turn update but the final save is a checkpoint (or a lease renewal).
    checkpoints = updates[:-1]
    # The stamps come from the database's clock (SQLite's 'now' has millisecond
    # resolution): checkpoints written a second apart may measure 0.999 s.
    worst = 0
    for i, at in enumerate(checkpoints):
        worst = max(worst, sum(1 for other in checkpoints[i:] if other - at < 0.99))
    gaps = [b - a for a, b in zip(checkpoints, checkpoints[1:], strict=False)]
    return {
        "total": len(writes),
        "by_kind": count,
        "checkpoints": len(checkpoints),
        "max_checkpoints_in_1s": worst,
        "min_checkpoint_gap_s": round(min(gaps), 3) if gaps else None,
    }
