"""Traces for the review tests: people in two teams, and stored turns made directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.teams import Team
from conversations.models import Conversation, Turn

PASSWORD = "review-pass-123"


def client_for(user: Any) -> Client:
    """A test client signed in as one of `people()`."""
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@dataclass
class People:
    owner: Any  # alice, member of Red
    reviewer: Any  # rita, reviewer of Red
    other_reviewer: Any  # olga, reviewer of Blue
    member: Any  # mark, plain member of Red
    outsider: Any  # otto, in no team
    root: Any  # superuser
    red: Team
    blue: Team


def people() -> People:
    users = get_user_model().objects
    make = lambda name: users.create_user(name, password=PASSWORD)  # noqa: E731
    owner, reviewer, other, member, outsider = (
        make(n) for n in ("alice", "rita", "olga", "mark", "otto")
    )
    root = users.create_superuser("root", password=PASSWORD)
    red = Team.objects.create(name="Red")
    red.members.add(owner, reviewer, member)
    red.reviewers.add(reviewer)
    blue = Team.objects.create(name="Blue")
    blue.members.add(other)
    blue.reviewers.add(other)
    return People(owner, reviewer, other, member, outsider, root, red, blue)


def trace(
    owner: Any,
    question: str = "Why is the sky blue?",
    reasoning: str = "Rayleigh scattering goes as the inverse fourth power.",
    answer: str = "Because blue light scatters more.",
    *,
    model: str = "fake/fake-r1",
    status: str = Turn.Status.COMPLETED,
    created: datetime | None = None,
    reasoning_tokens: int = 120,
    completion_tokens: int = 150,
    thinking_ms: int = 4200,
    error: dict[str, Any] | None = None,
) -> Turn:
    """A conversation with one question and its answer; returns the answer."""
    created = created or timezone.now()
    conversation = Conversation.objects.create(owner=owner, title=question[:40])
    user_turn = Turn.objects.create(
        conversation=conversation,
        index=0,
        role=Turn.Role.USER,
        content=question,
        status=Turn.Status.COMPLETED,
        created=created - timedelta(seconds=1),
    )
    return Turn.objects.create(
        conversation=conversation,
        index=1,
        parent=user_turn,
        role=Turn.Role.ASSISTANT,
        content=answer,
        reasoning_content=reasoning,
        status=status,
        model=model,
        created=created,
        usage={
            "prompt_tokens": 20,
            "completion_tokens": completion_tokens,
            "reasoning_tokens": reasoning_tokens,
            "total_tokens": 20 + completion_tokens,
        },
        timings={
            "reasoning_first_token": 300,
            "content_first_token": 300 + thinking_ms,
            "reasoning_duration": thinking_ms,
            "total": 900 + thinking_ms,
        },
        error=error,
    )


def plan_among_fillers(first: Turn, turns: Any, answer: str, thought: str) -> str:
    """PostgreSQL's plan for `turns` once `first`'s conversation has 2,000 more
    assistant turns (`answer`/`thought` + a number), analyzed, so that the planner
    weighs the indexes as on a real table; sequential scans off, since a table this
    small would be read whole: the question is whether an index serves."""
    from django.db import connection

    Turn.objects.bulk_create(
        Turn(
            conversation=first.conversation, index=10 + i, parent=first, role=Turn.Role.ASSISTANT,
            content=f"{answer} {i}", reasoning_content=f"{thought} {i}",
            status=Turn.Status.COMPLETED, created=timezone.now() - timedelta(minutes=i),
        )
        for i in range(2000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_turn")
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = turns.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())
