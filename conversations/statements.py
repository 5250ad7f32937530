"""The turn start's writes as statements written out once per database.

A turn's start inserts its turns (and, for an API request, its conversation) and
touches the conversation. Compiled by the ORM on every start (`bulk_create`, and an
UPDATE with a CASE), they took 1.5-2.4 ms of CPU on SQLite and 5 ms on PostgreSQL,
where the same statements written once take 0.5-0.65 and 1.3-2.0 ms (in process,
hot), and the turn's INSERT is what the first token waits for when the upstream
answers quickly (tests/bench/person.py). Values are prepared by the fields
themselves (`pre_save`, `get_db_prep_save`), as the ORM would on create; rows are
built as model instances, so their defaults are the model's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection, models, transaction

from conversations.models import Conversation

_TEXT = ("CharField", "TextField")


@functools.cache
def _insert(
    vendor: str, model: type[models.Model], rows: int, typed: bool = False
) -> tuple[str, tuple[Any, ...]]:
    """`typed`: each value cast to its column's type, for VALUES read as a table (where
    PostgreSQL would take a NULL or a literal for text); text is left to the column,
    which checks its length (a cast to varchar(n) would cut it)."""
    q = connection.ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    casts = [
        "" if not typed or field.get_internal_type() in _TEXT else f"::{field.db_type(connection)}"
        for field in fields
    ]
    row = "(" + ", ".join(f"%s{cast}" for cast in casts) + ")"
    columns = ", ".join(q(field.column) for field in fields)  # type: ignore[arg-type]
    values = ", ".join([row] * rows)
    return f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES {values}", fields


def _values(fields: tuple[Any, ...], objs: Sequence[models.Model]) -> list[Any]:
    return [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]


def insert(*groups: Sequence[models.Model]) -> None:
    """INSERT each group of rows (one model's) in one statement, as `bulk_create` would
    (no signals, no RETURNING: their primary keys are set), all or none. On
    PostgreSQL the groups are one statement (the first ones in WITH), so one round
    trip and no BEGIN or COMMIT; elsewhere, one transaction."""
    parts = []
    for objs in groups:
        sql, fields = _insert(connection.vendor, type(objs[0]), len(objs))
        parts.append((sql, _values(fields, objs)))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            first = ", ".join(f"i{n} AS ({sql})" for n, (sql, _) in enumerate(parts[:-1]))
            cursor.execute(
                (f"WITH {first} " if first else "") + parts[-1][0],
                [value for _, values in parts for value in values],
            )
            return
        with transaction.atomic():
            for sql, values in parts:
                cursor.execute(sql, values)


def insert_into_owned(
    conversation_id: Any, owner_id: Any, now: Any, title: str, turns: Sequence[models.Model]
) -> bool:
    """Touch the conversation if it is the owner's (its `updated`, and its title when it
    has none) and only then INSERT `turns`; False when it is not theirs, or gone. On
    PostgreSQL one statement: one round trip where the two statements in a
    transaction made four, and the first token can wait for them
    (tests/bench/person.py)."""
    meta = Conversation._meta
    touch = [
        meta.get_field("updated").get_db_prep_save(now, connection),
        title,
        meta.pk.get_db_prep_value(conversation_id, connection),  # type: ignore[union-attr]
        owner_id,
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, fields = _insert(connection.vendor, type(turns[0]), len(turns), typed=True)
            head, values = sql.split(" VALUES ", 1)
            cursor.execute(
                f"WITH touched AS ({_touch(connection.vendor)} RETURNING 1) {head}"
                f" SELECT * FROM (VALUES {values}) AS v WHERE EXISTS (SELECT FROM touched)",
                [*touch, *_values(fields, turns)],
            )
            return bool(cursor.rowcount)
        with transaction.atomic():  # in the same order: the turns only if it was touched
            cursor.execute(_touch(connection.vendor), touch)
            if cursor.rowcount != 1:
                return False
            sql, fields = _insert(connection.vendor, type(turns[0]), len(turns))
            cursor.execute(sql, _values(fields, turns))
            return True


@functools.cache
def _touch(vendor: str) -> str:
    q = connection.ops.quote_name
    return (
        f"UPDATE {q(Conversation._meta.db_table)} SET {q('updated')} = %s,"
        f" {q('title')} = CASE WHEN {q('title')} = '' THEN %s ELSE {q('title')} END"
        f" WHERE {q('id')} = %s AND {q('owner_id')} = %s"
    )
