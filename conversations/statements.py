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

from django.db import connection, models

from conversations.models import Conversation


@functools.cache
def _insert(vendor: str, model: type[models.Model], rows: int) -> tuple[str, tuple[Any, ...]]:
    q = connection.ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(q(field.column) for field in fields)  # type: ignore[arg-type]
    values = ", ".join([row] * rows)
    return f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES {values}", fields


def insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """INSERT `objs` in one statement, as `bulk_create` would (no signals, no
    RETURNING: their primary keys are set)."""
    sql, fields = _insert(connection.vendor, model, len(objs))
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.cache
def _touch(vendor: str) -> str:
    q = connection.ops.quote_name
    return (
        f"UPDATE {q(Conversation._meta.db_table)} SET {q('updated')} = %s,"
        f" {q('title')} = CASE WHEN {q('title')} = '' THEN %s ELSE {q('title')} END"
        f" WHERE {q('id')} = %s AND {q('owner_id')} = %s"
    )


def touch_conversation(conversation_id: Any, owner_id: Any, now: Any, title: str) -> int:
    """The conversation's `updated`, and its title when it has none, if it is the
    owner's; the number of rows changed (0: not theirs, or gone)."""
    meta = Conversation._meta
    params = [
        meta.get_field("updated").get_db_prep_save(now, connection),
        title,
        meta.pk.get_db_prep_value(conversation_id, connection),  # type: ignore[union-attr]
        owner_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_touch(connection.vendor), params)
        return int(cursor.rowcount)
