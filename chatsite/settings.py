"""Settings, all from the environment.

Every variable is optional in development: the defaults need nothing installed
(SQLite, the in-memory channel layer, a generated local encryption key, the
offline demo provider). Production sets DEBUG=0 and the variables the README
lists; a missing secret there is an ImproperlyConfigured, never a silent default.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from chatsite.env import env_bool, env_float, env_int, env_list, env_secret

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", True)
TESTING = env_bool("TESTING", False)

SECRET_KEY = env_secret("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])


def _field_encryption_keys() -> list[str]:
    keys = env_list("FIELD_ENCRYPTION_KEY", [])
    if keys:
        return keys
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be set when DEBUG=0 (generate one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        )
    # Development: one key generated into a git-ignored file, so stored API keys
    # survive restarts without anyone having to configure anything.
    from cryptography.fernet import Fernet

    path = BASE_DIR / ".field_encryption_key"
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return [path.read_text().strip()]


FIELD_ENCRYPTION_KEYS = _field_encryption_keys()

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "providers",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chatsite.middleware.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.oidc.middleware.SessionRenewalMiddleware",  # company sign-in re-checked
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite by default. The runner writes checkpoints from worker threads while
# views read: a busy timeout and IMMEDIATE transactions avoid "database is locked".
# WAL + synchronous=NORMAL: no fsync per commit (still crash-safe; a power cut may
# lose the last commits), which was most of the cost of starting a turn.
_SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    except Exception as exc:  # dj_database_url raises several types on bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = _SQLITE_OPTIONS
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
        _page_cost := os.environ.get("DB_RANDOM_PAGE_COST", "1.1")
    ):
        # The planner's cost of a random read, for storage that seeks about as fast as
        # it reads (SSDs, cloud volumes, a working set in memory). At PostgreSQL's
        # default of 4, a team reviewer's filtered trace list scanned every turn in
        # parallel (40-60 ms at 100,000 turns) rather than its members' conversations'
        # turns (15-20 ms). Empty: the server's own setting (say, behind pgbouncer,
        # which refuses startup options).
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
            f"-c random_page_cost={float(_page_cost)}"
        )
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "DB_POOL", False
    ):
        # A connection pool: runners checkpoint from worker threads, and opening a
        # PostgreSQL connection per checkpoint (CONN_MAX_AGE=0) costs a backend fork.
        # Opt-in for now: the test suite does not yet run with it (see architecture.md).
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": _SQLITE_OPTIONS,
            # Tests run daphne in subprocesses that must see the same data.
            "TEST": {
                "NAME": os.environ.get("SQLITE_TEST_PATH", str(BASE_DIR / "var" / "test.sqlite3"))
            },
        }
    }
# Async code must not keep connections across requests (Django's advice for ASGI).
# The chat's hot paths run on a few long-lived threads that do keep theirs
# (conversations/live/db.py): DB_THREADS of them on PostgreSQL, one on SQLite.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DB_THREADS = env_int("DB_THREADS", 8)
# Threads that run the pages' and JSON's middleware and views (chatsite/handler.py),
# each keeping one database connection.
SITE_THREADS = env_int("SITE_THREADS", 4)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 1000)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py caps a pool at 100 connections and then fails at once;
                # a thousand sockets need more.
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
                # channels_redis drops messages past `capacity` without a word;
                # the turn log is the real copy, but keep drops rare.
                "capacity": env_int("CHANNEL_CAPACITY", 5000),
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "conversations.live.layers.LocalChannelLayer",
            "CONFIG": {"capacity": env_int("CHANNEL_CAPACITY", 5000), "expiry": 60},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Company sign-in (accounts/oidc/; README "Company sign-in"): on with OIDC_ISSUER; the
# IdP's redirect URI is https://<host>/oidc/callback/.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip()
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
OIDC_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET") or ""
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "").strip() or "openid email profile"
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "").strip() or "groups"
OIDC_BUTTON_LABEL = os.environ.get("OIDC_BUTTON_LABEL", "").strip()
OIDC_LINK_BY_EMAIL = env_bool("OIDC_LINK_BY_EMAIL", False)
OIDC_RENEW_SECONDS = max(1, env_int("OIDC_RENEW_SECONDS", 900))  # re-checked with the IdP
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
if OIDC_ISSUER and not (OIDC_ISSUER.startswith(("https://", "http://")) and OIDC_CLIENT_ID):
    raise ImproperlyConfigured("OIDC_ISSUER must be an http(s) URL, with OIDC_CLIENT_ID set")

# English and Simplified Chinese; the browser's Accept-Language picks, the language
# switcher (Django's set_language) remembers a choice in a cookie.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "chatsite.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Django's database sessions, read with a statement written once (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"

# Security. Production (DEBUG=0) is `check --deploy` clean with these.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the chat page's JS reads it for JSON writes
X_FRAME_OPTIONS = "DENY"
# Every page: scripts and styles from this site only (no inline script or style:
# the pages keep theirs in static files), no plugins, no framing. 'self' in
# connect-src covers the page's own websocket (CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if OIDC_ISSUER:  # sign-out's form redirects to the IdP: form-action must allow it
    _idp_origin = "/".join(OIDC_ISSUER.split("/", 3)[:3])
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(_idp_origin)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SILENCED_SYSTEM_CHECKS = (
    [] if env_bool("SECURE_HSTS_PRELOAD", False) or DEBUG else ["security.W021"]
)

# The chat itself.
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 100_000)
# Deltas are gathered this long before one event goes out (fewer frames, same text);
# up to the maximum when the process falls behind (conversations/live/pacing.py).
CHAT_COALESCE_SECONDS = env_float("CHAT_COALESCE_SECONDS", 0.03)
CHAT_COALESCE_MAX_SECONDS = env_float("CHAT_COALESCE_MAX_SECONDS", 0.07)
CHAT_CHECKPOINT_SECONDS = env_float("CHAT_CHECKPOINT_SECONDS", 1.0)
# A running turn's lease; a process that stops renewing it has died.
CHAT_LEASE_SECONDS = env_float("CHAT_LEASE_SECONDS", 30.0)
# On SIGTERM, running turns get this long to finish before they are cut and marked.
CHAT_SHUTDOWN_GRACE_SECONDS = env_float("CHAT_SHUTDOWN_GRACE_SECONDS", 20.0)
# Each serving process looks for dead turns every half lease (off in unit tests).
CHAT_BACKGROUND_SWEEP = env_bool("CHAT_BACKGROUND_SWEEP", True)
# A socket following a running turn that hears nothing this long reads the log:
# a dropped channel-layer message (even the last one) cannot strand it.
CHAT_WATCHDOG_SECONDS = env_float("CHAT_WATCHDOG_SECONDS", 3.0)
# How long a finished turn's event log is kept for `resume` (then: a snapshot).
CHAT_LOG_RETENTION_SECONDS = env_int("CHAT_LOG_RETENTION_SECONDS", 300)
# How long a process reuses a resolved model, provider and key (admin changes made
# in another process take effect within this; in the same process, at once).
CHAT_MODEL_CACHE_SECONDS = env_float("CHAT_MODEL_CACHE_SECONDS", 5.0)
# Upstream: reasoning models may think for minutes before the first byte of an
# answer; keep-alive comments reset this. Silence past it is a stalled stream.
UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 10.0)
UPSTREAM_IDLE_TIMEOUT = env_float("UPSTREAM_IDLE_TIMEOUT", 600.0)
UPSTREAM_RETRIES = env_int("UPSTREAM_RETRIES", 2)
UPSTREAM_RETRY_BASE_SECONDS = env_float("UPSTREAM_RETRY_BASE_SECONDS", 1.0)
# Hosts a provider's base URL may name (comma-separated; ".example.com" a domain and
# the names under it); empty: any. providers/outbound.py.
UPSTREAM_ALLOWED_HOSTS = env_list("UPSTREAM_ALLOWED_HOSTS", [])
# The admin's "Test connection": each call's whole time is bounded by this.
UPSTREAM_TEST_TIMEOUT = env_float("UPSTREAM_TEST_TIMEOUT", 15.0)
# Limits that protect the service (accounts/limits.py; 0: no limit). Running turns
# are counted in the database at admission (accounts/admission.py); messages per
# minute in the cache, which is per process by default (see docs/architecture.md).
CHAT_MAX_RUNNING_TURNS_PER_USER = env_int("CHAT_MAX_RUNNING_TURNS_PER_USER", 3)
CHAT_MESSAGES_PER_MINUTE = env_int("CHAT_MESSAGES_PER_MINUTE", 20)
# What a running turn holds of its teams' daily quotas when its model sets no maximum
# output tokens (accounts/admission.py).
CHAT_TURN_RESERVE_TOKENS = env_int("CHAT_TURN_RESERVE_TOKENS", 8192)
# Sign-in and password reset: this many failures per username (or requests per
# e-mail), four times as many per address, within the window (accounts/throttle.py).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
# Proxies in front that append to X-Forwarded-For (0: REMOTE_ADDR, the header ignored).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Bad API tokens from one address in the window: then 429 till it ends (accounts/tokens.py).
API_TOKEN_MAX_FAILURES = env_int("API_TOKEN_MAX_FAILURES", 20)
API_TOKEN_LOCKOUT_MINUTES = env_int("API_TOKEN_LOCKOUT_MINUTES", 15)
# A 429's Retry-After is honoured up to this long before the next attempt (a
# person is waiting for the first token); longer waits are cut to it.
UPSTREAM_RETRY_AFTER_MAX_SECONDS = env_float("UPSTREAM_RETRY_AFTER_MAX_SECONDS", 5.0)
# A key the provider rate-limited (429) or found out of credit (402) is tried after
# the provider's other keys by this process's new turns for this long (or for its
# Retry-After when longer, up to 10 minutes).
UPSTREAM_KEY_COOLDOWN_SECONDS = env_float("UPSTREAM_KEY_COOLDOWN_SECONDS", 30.0)
# The offline demo provider: on in development, off in production unless asked for.
DEMO_PROVIDER = env_bool("DEMO_PROVIDER", DEBUG)
DEMO_DELAY_SECONDS = env_float("DEMO_DELAY_SECONDS", 0.04)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # API keys never reach a log line (providers/redact.py): every handler has it.
    "filters": {"secrets": {"()": "providers.redact.SecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # runserver's access log has its own handler; don't print each line twice.
        "django.channels.server": {"propagate": False},
    },
}
