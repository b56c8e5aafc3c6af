"""Database housekeeping that the worker runs as a job."""

from __future__ import annotations

from django.db import connection


def checkpoint() -> None:
    """On SQLite, empty the write-ahead log (``backends.sqlite3``); nothing on PostgreSQL,
    whose WAL segments are recycled by the server (what they keep is encrypted anyway)."""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        connection.ensure_connection()
        connection.checkpoint()  # type: ignore[attr-defined]
