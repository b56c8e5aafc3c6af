"""When the database cannot be reached, pages and the API answer 503, never 500."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def unreachable_database(django_db_blocker, tmp_path):
    """Point the real connection at a database that cannot be opened, then restore it."""
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
        else:
            connection.settings_dict["PORT"] = "1"  # nothing listens there
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def test_a_page_answers_503_with_a_message(client, unreachable_database):
    response = client.get("/l/anything/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "nothing was saved" in response.content.decode()


def test_the_api_answers_503_json(client, unreachable_database):
    response = client.post(
        "/api/v1/letters/anything/signatures",
        {"name": "Ada", "email": "ada@example.org"},
        content_type="application/json",
    )
    assert response.status_code == 503
    assert "try again" in response.json()["error"]


def test_health_answers_503(client, unreachable_database):
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


def test_ping_needs_no_database(client, unreachable_database):
    response = client.get("/ping")
    assert response.status_code == 200 and response.content == b"ok"
