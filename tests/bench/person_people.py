"""The people of the person bench: signed-in users in teams, a provider with two keys.

Runs in the backend child after `django.setup()`. Passwords are unusable and the
sessions are written directly: hashing a password per person would take minutes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import import_module

from tests.bench.stack import API_KEY, MODEL_ID, PROVIDER_NAME


@dataclass(frozen=True)
class Person:
    session: str
    csrf: str

    @property
    def cookie(self) -> str:
        return f"sessionid={self.session}; csrftoken={self.csrf}"


@dataclass(frozen=True)
class People:
    model_ref: str
    people: list[Person]

    def __len__(self) -> int:
        return len(self.people)


def make(upstream_port: int, n: int) -> People:
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.db import connections

    from accounts.teams import Team
    from providers.models import ApiKey, ChatModel, Provider

    provider = Provider.objects.create(
        name=PROVIDER_NAME,
        style="chat-completions",
        base_url=f"http://127.0.0.1:{upstream_port}/v1",
    )
    for priority, label in enumerate(("first", "second")):
        key = ApiKey(provider=provider, label=label, priority=priority)
        key.set_secret(API_KEY + label)
        key.save()
    model = ChatModel.objects.create(provider=provider, model_id=MODEL_ID)
    User = get_user_model()
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"person{i}", password=unusable) for i in range(n)]
    )
    users = list(User.objects.filter(username__startswith="person").order_by("id"))
    # Two teams, each granted the model (so access reads the grants) with a daily quota
    # no run reaches (so every start reads and reserves it).
    for index in range(2):
        team = Team.objects.create(name=f"Team {index}", daily_token_quota=10**12)
        team.members.set(users[index::2])
        team.models.add(model)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    backend = settings.AUTHENTICATION_BACKENDS[0]
    people = []
    for user in users:
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        people.append(Person(session.session_key, secrets.token_hex(16)))
    connections.close_all()
    return People(f"{PROVIDER_NAME}/{MODEL_ID}", people)
