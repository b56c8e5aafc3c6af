"""PostgreSQL as the app uses it (db/backends/postgresql, lib/config, signatures migration 0007): a
persistent connection checked between requests without a round trip, replaced when the server
ended it; statements that run often prepared on it; confirming as an update in place. SQLite
has no server that could end a session, no statements to prepare, no row versions."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection, connections

from tests.conftest import last_token, make_letter
from undersigned.letters.models import Letter
from undersigned.signatures import services

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def _next_request():
    """What Django does between two requests on one thread (``close_old_connections``)."""
    connection.close_if_unusable_or_obsolete()


@pytest.mark.django_db(transaction=True)
def test_a_healthy_connection_is_reused_without_asking_the_server(monkeypatch):
    Letter.objects.count()
    session = connection.connection
    asked = []
    wrapper = type(connections["default"])
    original = wrapper.is_usable
    monkeypatch.setattr(wrapper, "is_usable", lambda self: asked.append(1) or original(self))
    for _ in range(3):
        _next_request()
        Letter.objects.count()
    assert asked == [] and connection.connection is session


@pytest.mark.django_db(transaction=True)
def test_a_session_the_server_ended_is_replaced_before_the_request_uses_it():
    make_letter()
    Letter.objects.count()
    session = connection.connection
    pid = session.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):  # the session ends a moment after the signal; 2 s at most
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"session {pid} still running")
    _next_request()
    assert Letter.objects.count() == 1
    assert connection.connection is not session


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_runs_often_is_prepared_on_the_connection():
    make_letter()
    for _ in range(6):
        assert Letter.objects.filter(slug="clean-air").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "letters_letter"' in sql and "slug" in sql for sql in prepared), prepared


def _updates() -> tuple[int, int]:
    """Rows of signatures updated in this transaction: (all, in place)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            ["signatures_signature"] * 2,
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_confirming_updates_the_row_in_place_without_touching_an_index(client, letter):
    client.post(f"/l/{letter.slug}/", {"name": "Ada", "email": "ada@example.org"})
    token = last_token()  # records the intake
    before = _updates()
    services.confirm(token)
    updated, in_place = (now - then for now, then in zip(_updates(), before, strict=True))
    assert (updated, in_place) == (1, 1)
