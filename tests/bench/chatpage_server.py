"""The chat page's views from the server's side: SQL queries and time per request, in
process (Django's test client on the bench database) and over HTTP (the running daphne)."""

from __future__ import annotations

import statistics
import time
import urllib.request
from typing import Any

# (name, path, user): the pages the browser opens, and the JSON the page script reads.
Case = tuple[str, str, str]


def cases(pages: dict[str, str]) -> list[Case]:
    return [
        ("home, 1,000 conversations", "/", "hoarder"),
        ("home, 1 conversation", "/", "single"),
        ("/c/ of one of 1,000", f"/c/{pages['hoarder-one']}/", "hoarder"),
        ("/c/ of 200 turns", f"/c/{pages['long']}/", "reader"),
        ("/c/ of 0 turns", f"/c/{pages['empty']}/", "reader"),
        ("API of 200 turns", f"/api/conversations/{pages['long']}/", "reader"),
        ("API of 0 turns", f"/api/conversations/{pages['empty']}/", "reader"),
    ]


def in_process(all_cases: list[Case], runs: int) -> dict[str, Any]:
    """Queries (counted once, after a warm-up request) and the median time of `runs` requests."""
    from django.contrib.auth import get_user_model
    from django.db import connection, connections, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    out: dict[str, Any] = {}
    for name, path, username in all_cases:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(get_user_model().objects.get(username=username))
        client.get(path)
        # Each request clears the log when it starts: counted from an empty log, or nothing shows.
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        sql = [q["sql"] for q in queries.captured_queries]  # read now: the next request clears it
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        body = response.content
        out[name] = {
            "path": path,
            "status": response.status_code,
            "queries": len(sql),
            "sql": [q[:160] for q in sql],
            "median_ms": round(statistics.median(times), 2),
            "bytes": len(body),
            "sidebar_links": body.count(b'class="conversation-link'),
        }
    connections.close_all()
    return out


def over_http(
    base: str, cookies: dict[str, str], all_cases: list[Case], runs: int
) -> dict[str, Any]:
    """Median and max wall time of `runs` GETs (new connection each, body read to the end)."""
    out: dict[str, Any] = {}
    for name, path, username in all_cases:
        request = urllib.request.Request(
            base + path, headers={"Cookie": f"sessionid={cookies[username]}"}
        )
        times = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            if i:  # the first one warms the process up
                times.append((time.perf_counter() - t0) * 1000)
        out[name] = {
            "median_ms": round(statistics.median(times), 2),
            "max_ms": round(max(times), 2),
        }
    return out
