"""The session store: Django's database sessions, read with one statement written
out once.

Every request and every socket's connect reads its session. Django's store reads it
with `Session.objects.get(...)`, compiled by the ORM each time: 0.33 ms of CPU on
SQLite and 0.65 ms on PostgreSQL, where the same statement written once takes 0.04
and 0.18 ms (in process, hot). A person's turn opens a conversation (a POST) and
its socket, so that was paid twice a turn (tests/bench/person.py). Writing, expiry,
clearing and the async reads are Django's own.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        if self.session_key is None:
            return None
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_read(connection.vendor), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:  # unknown or expired: as Django's, the next save makes a new key
            self._session_key = None
            return None
        return Session(session_key=self.session_key, session_data=row[0])


@functools.cache
def _read(vendor: str) -> str:
    q: Any = connection.ops.quote_name
    return (
        f"SELECT {q('session_data')} FROM {q(Session._meta.db_table)}"
        f" WHERE {q('session_key')} = %s AND {q('expire_date')} > %s"
    )
