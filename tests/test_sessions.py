"""The session store (accounts/sessions.py): Django's database sessions, read with
a statement written once, on pages and sockets alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_signed_in_page_reads_its_session_with_one_statement(client, alice):
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/")
    assert page.status_code == 200 and page.wsgi_request.user == alice
    reads = [q["sql"] for q in queries.captured_queries if "django_session" in q["sql"]]
    assert len(reads) == 1 and reads[0].startswith('SELECT "session_data" FROM')


def test_an_expired_or_unknown_session_is_nobodys_and_gets_a_new_key(client, alice):
    client.force_login(alice)
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    page = client.get("/")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]

    store = SessionStore("no-such-session-key-0123456789")
    assert store.load() == {} and store.session_key is None
    store["seen"] = 1
    store.save()
    assert store.session_key and SessionStore(store.session_key).load() == {"seen": 1}


def test_a_socket_reads_the_same_session(client, alice):
    from chatsite.socket_person import _person

    client.force_login(alice)
    store = SessionStore(client.cookies["sessionid"].value)
    assert _person(store) == alice
