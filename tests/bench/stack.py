"""The system under test: a database per backend, the bench upstream and daphne processes.

Every child process gets `_child_setup` (more file descriptors, and death with
its parent: a killed bench leaves no daphne or upstream behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.bench.upstream import raise_nofile
from tests.servers import DaphneServer, terminate

log = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "reasoning_chat_bench"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
REDIS_URL = "redis://127.0.0.1:6379/2"
PROVIDER_NAME = "bench"
MODEL_ID = "relay"
API_KEY = "sk-bench-0123456789"

# Variables of the caller's shell that would change what is measured.
_SCRUB = ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE", "TESTING")


def _child_setup() -> None:
    raise_nofile()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def backend_env(backend: str, workdir: Path) -> dict[str, str]:
    """Production settings (DEBUG=0) on SQLite + in-memory layer, or PostgreSQL + Redis."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("CHAT_")}
    env.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DEBUG="0",
        SECRET_KEY="bench-" + secrets.token_hex(32),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        DEMO_PROVIDER="0",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # One bench user runs every stream: a limit on running turns that is never
        # reached, so every start pays the admission (accounts/admission.py) as with
        # the default limit; no limit on messages a minute, which would refuse them.
        CHAT_MAX_RUNNING_TURNS_PER_USER="1000000",
        CHAT_MESSAGES_PER_MINUTE="0",
    )
    if backend == "postgres":
        env.update(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL)
    else:
        env["SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    return env


# --- databases -------------------------------------------------------------------------------


def services_reachable() -> str | None:
    """None when PostgreSQL and Redis answer, else why not."""
    try:
        import psycopg
        import redis

        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def create_pg_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")


def drop_pg_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )


@dataclass
class Fixtures:
    cookie: str
    model_ref: str
    conversations: list[str]


def make_fixtures(upstream_port: int, n_conversations: int) -> Fixtures:
    """A user with a session, the provider on the bench upstream, empty conversations.

    Runs in the backend child after `django.setup()` with the backend's env.
    """
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client

    from conversations.models import Conversation
    from providers.models import ApiKey, ChatModel, Provider

    user = get_user_model().objects.create_user("bench", password=secrets.token_hex(16))
    provider = Provider.objects.create(
        name=PROVIDER_NAME,
        style="chat-completions",
        base_url=f"http://127.0.0.1:{upstream_port}/v1",
    )
    key = ApiKey(provider=provider, label="bench")
    key.set_secret(API_KEY)
    key.save()
    ChatModel.objects.create(provider=provider, model_id=MODEL_ID)
    conversations = Conversation.objects.bulk_create(
        [Conversation(owner=user, title="bench") for _ in range(n_conversations)],
        batch_size=500,
    )
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    connections.close_all()
    return Fixtures(cookie, f"{PROVIDER_NAME}/{MODEL_ID}", [str(c.id) for c in conversations])


def setup_django(backend: str, env: dict[str, str]) -> None:
    """This process on the backend's database, made afresh (PostgreSQL) and migrated,
    with `env` as its whole environment."""
    if backend == "postgres":
        create_pg_database()
    migrate(env)
    for key in list(os.environ):
        if key not in env:
            del os.environ[key]
    os.environ.update(env)
    import django

    django.setup()


def teardown_django(backend: str) -> None:
    """The bench's PostgreSQL database dropped; a failure is logged, not raised."""
    if backend != "postgres":
        return
    try:
        from django.db import connections

        connections.close_all()
        drop_pg_database()
    except Exception:
        log.warning("could not drop the bench database", exc_info=True)


# --- processes -------------------------------------------------------------------------------


class UpstreamProcess:
    """`tests.bench.upstream` in its own process, so its CPU is not the client's."""

    def __init__(self, env: dict[str, str], max_seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.upstream", "--max-seconds", str(max_seconds)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_child_setup,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"the bench upstream did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        terminate(self.proc)


class Daphne(DaphneServer):
    """The product under measurement, its log kept under the bench's work dir."""

    def __init__(
        self, env: dict[str, str], log_path: Path, preexec_fn: Callable[[], None] = _child_setup
    ) -> None:
        super().__init__(env, log_path, preexec_fn=preexec_fn)

    def problems(self, top: int = 8) -> list[str]:
        """What the process logged at WARNING and above, counted: `"<n>x <line>"`."""
        self.log.flush()
        counts: dict[str, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            if _is_problem(line):
                # Without the timestamp and ids, so repeats count as one.
                key = _UUID.sub("<id>", _TIMESTAMP.sub("", line))[:120]
                counts[key] = counts.get(key, 0) + 1
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        return [f"{n}x {line}" for line, n in ranked[:top]]


_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")


def _is_problem(line: str) -> bool:
    # Log records at WARNING and above, and the last line of each traceback.
    return bool(re.match(r"^(\S+ \S+ )?(WARNING|ERROR|CRITICAL) ", line)) or bool(
        re.match(r"^[\w.]+(Error|Exception): ", line)
    )


# --- measuring processes ------------------------------------------------------------------------


@dataclass
class Usage:
    """CPU (in cores: 1.0 is one core busy) and memory of a process over a window."""

    name: str
    process: psutil.Process
    start_cpu: float = 0.0
    start_wall: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0
    result: dict[str, Any] = field(default_factory=dict)

    def begin(self) -> None:
        times = self.process.cpu_times()
        self.start_cpu = times.user + times.system
        self.start_wall = time.monotonic()
        self.rss_start = self.rss_peak = self.process.memory_info().rss

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.rss_peak = max(self.rss_peak, self.process.memory_info().rss)

    def end(self) -> dict[str, Any]:
        times = self.process.cpu_times()
        wall = time.monotonic() - self.start_wall
        rss = self.process.memory_info().rss
        self.rss_peak = max(self.rss_peak, rss)
        self.result = {
            "cpu_cores": round((times.user + times.system - self.start_cpu) / wall, 3),
            "rss_start_mib": mib(self.rss_start),
            "rss_end_mib": mib(rss),
            "rss_peak_mib": mib(self.rss_peak),
            "threads": self.process.num_threads(),
        }
        return self.result


def mib(n: int) -> float:
    return round(n / 2**20, 1)


@contextlib.asynccontextmanager
async def watching(pids: dict[str, int], every: float = 0.25) -> Any:
    """CPU and peak RSS of named processes while the block runs; yields the result dict."""
    usages = [Usage(name, psutil.Process(pid)) for name, pid in pids.items()]
    for usage in usages:
        usage.begin()
    out: dict[str, Any] = {}

    async def sampler() -> None:
        while True:
            await asyncio.sleep(every)
            for usage in usages:
                usage.sample()

    task = asyncio.create_task(sampler())
    try:
        yield out
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for usage in usages:
            with contextlib.suppress(psutil.Error):
                out[usage.name] = usage.end()


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="relay-bench-") as name:
        yield Path(name)
