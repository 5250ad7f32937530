"""What checking model access, the team quota and the limits adds to a turn's start.

    python -m tests.bench.access [--teams 50] [--members 200] [--rounds 2000]

Builds a throwaway test database (SQLite, or PostgreSQL with DATABASE_URL), with
`--teams` teams of `--members` people each, every team given two of ten models
and a quota, and a day of usage rows for everyone. Then times what a turn start
asks of accounts/access.py, accounts/quota.py and accounts/admission.py
(`resolve_model` with its access check, then `check_quota`, then `admission.admit`
and, as the turn's end does, `admission.release`) for a member of one team: cold (caches
cleared before each call: what the first turn after an admin change pays) and
warm (the common case), as database time, queries and wall time per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.access")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    os.environ.setdefault("DEMO_PROVIDER", "0")
    import django

    django.setup()
    from django.db import connection

    name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        user = _seed(args.teams, args.members)
        print(f"{connection.vendor} ({name}): {args.teams} teams x {args.members} members")
        for label, cold in (("cold", True), ("warm", False)):
            print(f"  {label}: " + _measure(user, args.rounds if not cold else 200, cold))
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def _seed(teams: int, members: int) -> Any:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.teams import Team
    from accounts.usage import DailyUsage
    from providers.models import ApiKey, ChatModel, Provider

    provider = Provider.objects.create(name="p", style="chat-completions", base_url="http://x")
    key = ApiKey(provider=provider, label="k")
    key.set_secret("sk-bench-0000")
    key.save()
    models = [ChatModel.objects.create(provider=provider, model_id=f"m{i}") for i in range(10)]
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"u{i}") for i in range(teams * members)]
    )
    day = timezone.now().date()
    DailyUsage.objects.bulk_create(
        [DailyUsage(day=day, user=u, model="p/m0", total_tokens=1000, turns=1) for u in users]
    )
    for t in range(teams):
        team = Team.objects.create(name=f"team {t}", daily_token_quota=10**12)
        team.members.add(*users[t * members : (t + 1) * members])
        team.models.add(models[t % 10], models[(t + 1) % 10])
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum would gather
        cursor.execute("ANALYZE")
    return users[0]


def _measure(user: Any, rounds: int, cold: bool) -> str:
    import uuid

    from django.core.cache import cache
    from django.db import connection

    from accounts import access, admission, quota
    from conversations import catalog

    db_time = [0.0]
    queries = [0]

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_time[0] += time.perf_counter() - start
            queries[0] += 1

    walls, dbs = [], []
    with connection.execute_wrapper(timed):
        for _ in range(rounds):
            cache.clear()  # the per-minute message count: never at its limit here
            if cold:
                access.clear()
                quota.clear()
            db_before = db_time[0]
            start = time.perf_counter()
            resolved = catalog.resolve_model("p/m0", user)  # m0 is team 0's: u0 may use it
            quota.check_quota(user)
            turn_id = str(uuid.uuid4())
            admission.admit(user, turn_id, resolved.model)
            admission.release(turn_id)
            walls.append(time.perf_counter() - start)
            dbs.append(db_time[0] - db_before)
    return (
        f"DB {statistics.median(dbs) * 1000:.3f} ms median "
        f"(p99 {sorted(dbs)[int(len(dbs) * 0.99) - 1] * 1000:.3f}), "
        f"{queries[0] / rounds:.1f} queries, wall {statistics.median(walls) * 1000:.3f} ms "
        "per turn start"
    )


if __name__ == "__main__":
    main()
