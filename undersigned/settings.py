"""The one settings module. Every knob is an environment variable; see the README's table.

Mistakes in the environment do not raise here: they are collected in ``CONFIG_ERRORS`` and
reported by the system check ``undersigned.E001`` so that ``undersigned serve``, ``worker``
and ``migrate`` stop with a clear message instead of a stack trace.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from undersigned.lib.config import (
    ConfigError,
    envbool,
    envint,
    envstr,
    parse_cidrs,
    parse_database_url,
    parse_email_url,
)

CONFIG_ERRORS: list[str] = []


def _get(parse, *args, fallback):
    try:
        return parse(*args)
    except ConfigError as exc:
        CONFIG_ERRORS.append(str(exc))
        return fallback


BASE_DIR = Path(__file__).resolve().parent
# What this process writes (the database and its journal files, collected static files) is
# for its own user only: files 0600, folders 0700.
os.umask(0o077)
DATA_DIR = Path(envstr("UNDERSIGNED_DATA_DIR", "var")).resolve()
try:
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    if DATA_DIR.stat().st_uid == os.getuid():
        DATA_DIR.chmod(0o700)
except OSError as _exc:
    CONFIG_ERRORS.append(
        f"UNDERSIGNED_DATA_DIR={str(DATA_DIR)!r} cannot be created: {_exc.strerror}"
    )
DEBUG = _get(envbool, "UNDERSIGNED_DEBUG", False, fallback=False)

SECRET_KEY = _get(envstr, "UNDERSIGNED_SECRET_KEY", fallback="")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-debug-only-" + secrets.token_urlsafe(32)
    else:
        CONFIG_ERRORS.append(
            "UNDERSIGNED_SECRET_KEY is not set. Set it (or UNDERSIGNED_SECRET_KEY_FILE) to a long "
            "random string, e.g. the output of: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'. It keys tokens and email hashes: keep it secret, "
            "keep it stable, and keep it out of database backups."
        )
        SECRET_KEY = "unset-" + secrets.token_urlsafe(32)
elif len(SECRET_KEY) < 32:
    CONFIG_ERRORS.append("UNDERSIGNED_SECRET_KEY is shorter than 32 characters; use a long one.")

BASE_URL = envstr("UNDERSIGNED_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(BASE_URL)
if _base.scheme not in {"http", "https"} or not _base.hostname:
    CONFIG_ERRORS.append(
        f"UNDERSIGNED_BASE_URL={BASE_URL!r} must be an absolute http(s) URL such as "
        "https://letters.example.org"
    )
    _base = urlsplit("http://127.0.0.1:8000")
ALLOWED_HOSTS = [
    h.strip() for h in envstr("UNDERSIGNED_ALLOWED_HOSTS", "").split(",") if h.strip()
] or [str(_base.hostname), "127.0.0.1", "localhost"]
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
SECURE = _base.scheme == "https"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if SECURE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 365 * 24 * 3600  # browsers then never ask over plain http

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "undersigned.accounts",
    "undersigned.letters",
    "undersigned.signatures",
    "undersigned.outbox",
    "undersigned.api",
    "undersigned.ops",
    "undersigned.moderation",
    "undersigned.events",
    "undersigned.subscriptions",
    "undersigned.tips",
    "undersigned.pledges",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "undersigned.web.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "undersigned.web.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "undersigned.accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "undersigned.web.middleware.LetterMovedMiddleware",
    "undersigned.web.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "undersigned.urls"
WSGI_APPLICATION = "undersigned.wsgi.application"
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
                "undersigned.web.context.site",
            ],
        },
    },
]

_db_url = envstr("DATABASE_URL", "")
_sqlite_options = {
    "transaction_mode": "IMMEDIATE",
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; "
        "PRAGMA secure_delete=ON; "
        "PRAGMA foreign_keys=ON;"
    ),
}
DATABASES = {
    "default": _get(
        parse_database_url,
        _db_url or "sqlite:///db.sqlite3",
        DATA_DIR,
        fallback={"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "db.sqlite3")},
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Django's backend, with the threads of a process queueing for writes (db/backends/sqlite3).
    DATABASES["default"]["ENGINE"] = "undersigned.db.backends.sqlite3"
    DATABASES["default"]["OPTIONS"] = _sqlite_options
else:
    # Django's backend, with a health check that needs no round trip (db/backends/postgresql).
    DATABASES["default"]["ENGINE"] = "undersigned.db.backends.postgresql"
# Persistent connections: SQLite's PRAGMAs and PostgreSQL's connection set-up are not free.
DATABASES["default"]["CONN_MAX_AGE"] = _get(envint, "UNDERSIGNED_CONN_MAX_AGE", 600, fallback=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = envstr("REDIS_URL", "")
if _redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
            # A Redis that stops answering fails a request in seconds (503), not never.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

globals().update(_get(parse_email_url, envstr("EMAIL_URL", ""), fallback=parse_email_url("")))
DEFAULT_FROM_EMAIL = envstr("UNDERSIGNED_FROM_EMAIL", f"Undersigned <noreply@{_base.hostname}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The sender of discreet mail: names neither the letter, its organizers, nor this software.
DISCREET_FROM_EMAIL = envstr(
    "UNDERSIGNED_DISCREET_FROM_EMAIL", f"Notifications <noreply@{_base.hostname}>"
)

RATE_LIMIT_ALLOW = _get(
    parse_cidrs,
    envstr("UNDERSIGNED_RATE_LIMIT_ALLOW", ""),
    "UNDERSIGNED_RATE_LIMIT_ALLOW",
    fallback=[],
)
TRUSTED_PROXIES = _get(
    parse_cidrs,
    envstr("UNDERSIGNED_TRUSTED_PROXIES", ""),
    "UNDERSIGNED_TRUSTED_PROXIES",
    fallback=[],
)
# Days a client address hash may stay beside a signature (for abuse tools) before it and that
# day's key are destroyed.
IP_HASH_DAYS = _get(envint, "UNDERSIGNED_IP_HASH_DAYS", 3, 1, fallback=3)
MEMBER_PASS_TTL_HOURS = _get(envint, "UNDERSIGNED_MEMBER_PASS_TTL_HOURS", 24, 1, fallback=24)
# A mail claimed by a worker that died before sending it is sent again after this long.
MAIL_CLAIM_TIMEOUT_SECONDS = _get(envint, "UNDERSIGNED_MAIL_CLAIM_TIMEOUT", 300, 5, fallback=300)
# At most this many mails to one address in an hour, of those a stranger can cause.
MAILS_PER_ADDRESS_PER_HOUR = _get(
    envint, "UNDERSIGNED_MAILS_PER_ADDRESS_PER_HOUR", 3, 1, fallback=3
)
# Mailings to a letter's subscribers (updates, responses, demands met) in seven days.
UPDATE_MAILS_PER_WEEK = _get(envint, "UNDERSIGNED_UPDATE_MAILS_PER_WEEK", 2, 0, fallback=2)
# A hidden signer's department is shown only where at least this many hidden signers share
# it (else "another department"); the smallest group any breakdown shows.
SMALLEST_GROUP = _get(envint, "UNDERSIGNED_SMALLEST_GROUP", 5, 1, fallback=5)
CONFIRMATION_TTL_HOURS = _get(envint, "UNDERSIGNED_CONFIRMATION_TTL_HOURS", 72, 1, fallback=72)
# A met pledge's committers' addresses are kept (encrypted) for its organizers' one
# announcement at most this many days after it was met, then deleted.
PLEDGE_ANNOUNCE_DAYS = _get(envint, "UNDERSIGNED_PLEDGE_ANNOUNCE_DAYS", 30, 1, fallback=30)
# The largest request body a public endpoint accepts; larger ones get 413.
MAX_REQUEST_BYTES = _get(envint, "UNDERSIGNED_MAX_REQUEST_BYTES", 64 * 1024, 1024, fallback=65536)

# The tip line (undersigned/tips/). Conversations idle this many days are deleted, and
# messages older than that.
# Code-forge identity: `<base>/<user>.keys` lists a user's SSH public keys (tests point these
# at a local server). A signer proves an account by signing a challenge with one of them.
FORGE_URLS = {
    "github": envstr("UNDERSIGNED_FORGE_GITHUB_URL", "https://github.com").rstrip("/"),
    "gitlab": envstr("UNDERSIGNED_FORGE_GITLAB_URL", "https://gitlab.com").rstrip("/"),
    "codeberg": envstr("UNDERSIGNED_FORGE_CODEBERG_URL", "https://codeberg.org").rstrip("/"),
}
for _name, _url in FORGE_URLS.items():
    if urlsplit(_url).scheme not in ("http", "https") or not urlsplit(_url).netloc:
        CONFIG_ERRORS.append(
            f"UNDERSIGNED_FORGE_{_name.upper()}_URL={_url!r} must be an absolute http(s) URL "
            f"such as https://{_name}.com (where <user>.keys is read)."
        )
FORGE_TIMEOUT_SECONDS = _get(envint, "UNDERSIGNED_FORGE_TIMEOUT", 5, 1, fallback=5)
FORGE_CHALLENGE_MINUTES = 10
TIP_RETENTION_DAYS = _get(envint, "UNDERSIGNED_TIP_RETENTION_DAYS", 90, 1, fallback=90)
# Files one tip message may carry, and their size in all (bytes); 0 files: text only.
TIP_MAX_FILES = _get(envint, "UNDERSIGNED_TIP_MAX_FILES", 5, 0, fallback=5)
TIP_MAX_UPLOAD_BYTES = _get(
    envint, "UNDERSIGNED_TIP_MAX_UPLOAD_BYTES", 10 * 2**20, 0, fallback=10 * 2**20
)
# Requests that stretch a codename (each costs 0.1 s of CPU and 64 MiB): per client network
# in an hour, and on the whole instance in a minute.
TIP_ATTEMPTS_PER_HOUR = _get(envint, "UNDERSIGNED_TIP_ATTEMPTS_PER_HOUR", 30, 1, fallback=30)
TIP_ATTEMPTS_PER_MINUTE = _get(envint, "UNDERSIGNED_TIP_ATTEMPTS_PER_MINUTE", 60, 1, fallback=60)
# The largest body the tip paths accept: the files, the message and the form's framing.
TIP_MAX_REQUEST_BYTES = max(MAX_REQUEST_BYTES, TIP_MAX_UPLOAD_BYTES + 256 * 1024)
# Form fields (not files) that Django reads into memory: a tip's text may be longer than a
# signature's. Elsewhere the body limit above stops larger bodies first.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_REQUEST_BYTES, 192 * 1024)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_ENGINE = "undersigned.web.sessions"
SESSION_COOKIE_SAMESITE = "Lax"
# Every organizer shows a second factor (a passkey or an authenticator app) after the
# password; one without is led to set one up first (accounts/factors.py).
REQUIRE_SECOND_FACTOR = _get(envbool, "UNDERSIGNED_REQUIRE_SECOND_FACTOR", True, fallback=True)
PASSWORD_RESET_TIMEOUT = 3600  # a reset link works once, for an hour
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "organize:dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "no_signer_data": {"()": "undersigned.web.logging.DropRequestData"},
        "no_private_links": {"()": "undersigned.web.logging.RedactLinks"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_signer_data", "no_private_links"],
        }
    },
    "root": {"handlers": ["console"], "level": envstr("UNDERSIGNED_LOG_LEVEL", "INFO")},
    "loggers": {
        # Request logs would carry client addresses and paths with tokens.
        "django.server": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "undersigned.web.errors.csrf_failure"
