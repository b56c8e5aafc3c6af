"""Configuration mistakes stop start-up with a clear message, not a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from undersigned.lib.config import ConfigError, parse_database_url, parse_email_url


def check(**env):
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UNDERSIGNED_", "DATABASE_URL", "EMAIL_URL", "DJANGO_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "undersigned", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
    )


GOOD = {"UNDERSIGNED_SECRET_KEY": "k" * 40}


@pytest.mark.slow  # a process each
@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "UNDERSIGNED_SECRET_KEY is not set"),
        ({**GOOD, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL='mysql://x/y' is not understood"),
        ({**GOOD, "DATABASE_URL": "postgres://u:secret@h:99999/db"}, "has an invalid port"),
        ({**GOOD, "EMAIL_URL": "smtp://"}, "EMAIL_URL='smtp://' names no host"),
        ({**GOOD, "EMAIL_URL": "http://mail"}, "is not understood"),
        ({**GOOD, "UNDERSIGNED_BASE_URL": "letters.example"}, "must be an absolute http(s) URL"),
        ({**GOOD, "UNDERSIGNED_RATE_LIMIT_ALLOW": "127.0.0.0/8,nonsense"}, "'nonsense' is not"),
        ({"UNDERSIGNED_SECRET_KEY": "short"}, "shorter than 32"),
        ({**GOOD, "UNDERSIGNED_DEBUG": "maybe"}, "is not a boolean"),
        ({**GOOD, "UNDERSIGNED_FORGE_GITHUB_URL": "file:///etc"}, "must be an absolute http(s)"),
    ],
)
def test_it_stops_with_a_clear_message(env, message, tmp_path):
    result = check(UNDERSIGNED_DATA_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert "undersigned.E001" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret@" not in result.stderr  # passwords in URLs are never echoed


def test_a_good_configuration_passes(tmp_path):
    result = check(UNDERSIGNED_DATA_DIR=str(tmp_path), **GOOD)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_the_secret_key_can_come_from_a_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("f" * 50 + "\n")
    assert (
        check(UNDERSIGNED_DATA_DIR=str(tmp_path), UNDERSIGNED_SECRET_KEY_FILE=str(key)).returncode
        == 0
    )
    missing = check(
        UNDERSIGNED_DATA_DIR=str(tmp_path), UNDERSIGNED_SECRET_KEY_FILE=str(tmp_path / "nope")
    )
    assert "cannot be read" in missing.stderr


def test_database_urls_are_parsed():
    data = Path("/data")
    assert parse_database_url("sqlite:///db.sqlite3", data)["NAME"] == "/data/db.sqlite3"
    assert parse_database_url("sqlite:////srv/u.db", data)["NAME"] == "/srv/u.db"
    pg = parse_database_url("postgresql://us%40er:p%3Ass@db.local:5433/letters", data)
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "us@er",
        "p:ss",
        "db.local",
        "5433",
        "letters",
    )
    with pytest.raises(ConfigError, match="names no database"):
        parse_database_url("postgres://h/", data)


def test_postgresql_statements_are_prepared_unless_the_url_says_not_to():
    data = Path("/data")
    options = parse_database_url("postgres://h/db?sslmode=require", data)["OPTIONS"]
    assert options == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5}
    pooled = parse_database_url("postgres://h/db?prepare_threshold=none", data)["OPTIONS"]
    assert pooled["prepare_threshold"] is None
    assert (
        parse_database_url("postgres://h/db?prepare_threshold=0", data)["OPTIONS"][
            "prepare_threshold"
        ]
        == 0
    )
    with pytest.raises(ConfigError, match="neither a whole number nor none"):
        parse_database_url("postgres://h/db?prepare_threshold=-1", data)


def test_email_urls_are_parsed():
    smtp = parse_email_url("smtp+tls://me:pw@mail.example:2525")
    assert (smtp["EMAIL_HOST"], smtp["EMAIL_PORT"], smtp["EMAIL_USE_TLS"]) == (
        "mail.example",
        2525,
        True,
    )
    assert parse_email_url("smtps://mail.example")["EMAIL_PORT"] == 465
    assert parse_email_url("")["EMAIL_BACKEND"].endswith("console.EmailBackend")


@pytest.mark.slow
def test_the_data_dir_is_created_or_its_problem_reported(tmp_path):
    fresh = tmp_path / "new" / "nested"
    assert check(UNDERSIGNED_DATA_DIR=str(fresh), **GOOD).returncode == 0
    assert fresh.is_dir()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = check(UNDERSIGNED_DATA_DIR=str(blocked / "sub"), **GOOD)
    assert result.returncode != 0 and "cannot be created" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:9/0"], ids=["unset", "set"])
def test_the_redis_client_is_loaded_only_with_redis_url(tmp_path, redis_url):
    # Importing it costs every process (worker, export, each command) 37 MB and 0.4 s.
    code = (
        "import os, sys, django; django.setup(); "
        "from django.core.management import call_command; call_command('check'); "
        "from django.core.handlers.wsgi import WSGIHandler; WSGIHandler(); "
        "print('redis loaded' if 'redis' in sys.modules else 'no redis')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNDERSIGNED_", "REDIS"))}
    env |= {**GOOD, "UNDERSIGNED_DATA_DIR": str(tmp_path), "REDIS_URL": redis_url}
    env["DJANGO_SETTINGS_MODULE"] = "undersigned.settings"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == (["redis", "loaded"] if redis_url else ["no", "redis"])
