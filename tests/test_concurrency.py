"""Real threads, each with its own database connection, signing and confirming at once.

Meant for PostgreSQL (CI runs the suite on it); on SQLite the same tests check that
IMMEDIATE transactions and the busy timeout serialize writers without errors."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from tests.conftest import drain, in_threads, settle
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import services
from undersigned.signatures.models import CountDelta, Intake, Signature

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 20


def run_at_once(target, count=THREADS) -> list:
    """``target(i)`` for i in 0..count-1, each in its own thread, all released at once."""
    return in_threads(target, list(range(count)), count, together=True)


def test_twenty_signers_sign_and_confirm_at_once_and_the_count_is_exact(letter):
    def sign(i):  # twenty people, twenty addresses (one address would hit the rate limit)
        return (
            Client(REMOTE_ADDR=f"198.51.100.{i + 1}")
            .post(f"/l/{letter.slug}/", {"name": f"Signer {i}", "email": f"s{i}@example.org"})
            .status_code
        )

    assert run_at_once(sign) == [302] * THREADS
    settle()
    tokens = [
        row.body_text.split("/v/")[1].split()[0]
        for row in OutgoingEmail.objects.filter(kind="confirm")
    ]
    assert len(tokens) == THREADS

    def confirm(i):
        return Client().post(f"/v/{tokens[i]}").status_code

    assert run_at_once(confirm) == [200] * THREADS
    drain()
    assert Signature.objects.confirmed().count() == THREADS
    assert Letter.objects.get(pk=letter.pk).signature_count == THREADS
    assert not CountDelta.objects.exists()


def test_one_email_signing_from_many_connections_at_once_leaves_one_signature(letter):
    def sign(i):
        return (
            Client()
            .post(
                f"/api/v1/letters/{letter.slug}/signatures",
                {"name": f"Twin {i}", "email": "twin@example.org"},
                content_type="application/json",
            )
            .status_code
        )

    assert run_at_once(sign) == [202] * THREADS
    assert Intake.objects.count() == THREADS
    # Four workers record them at once, three each; then one records the rest.
    assert run_at_once(lambda i: services.record_intake(limit=3), 4) == [3] * 4
    settle()
    assert Signature.objects.filter(letter=letter).count() == 1
    # A few links, not one per request: nobody can flood an inbox through the instance.
    assert OutgoingEmail.objects.filter(kind="confirm").count() == 3


def test_many_clicks_on_one_link_at_once_count_once(letter):
    Client().post(f"/l/{letter.slug}/", {"name": "Ada", "email": "ada@example.org"})
    settle()
    token = OutgoingEmail.objects.get().body_text.split("/v/")[1].split()[0]

    assert run_at_once(lambda i: Client().post(f"/v/{token}").status_code, 8) == [200] * 8
    drain()
    assert Letter.objects.get(pk=letter.pk).signature_count == 1


def test_threads_of_one_process_take_turns_at_writing_without_sqlite_polling(letter):
    """Each thread's connection gives up at once when SQLite's write lock is taken (busy
    timeout 0), and holds its transaction open a while: only the process's own queue for
    writers (undersigned.db.backends.sqlite3) keeps them from failing with "database is locked".
    PostgreSQL lets them write side by side: the same calls must simply all succeed."""

    def write(i):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 0")
        for _ in range(5):
            with transaction.atomic():
                CountDelta.objects.create(letter_id=letter.pk, signatures=1)
                threading.Event().wait(0.002)  # hold the write lock while others arrive
        return i

    assert run_at_once(write, 8) == list(range(8))
    assert CountDelta.objects.filter(letter=letter).count() == 40


def test_a_write_that_returns_rows_is_committed_before_its_turn_ends(letter):
    """SQLite commits a write with RETURNING only once its rows have been read: the queue
    reads them within the writer's turn, so a thread that looks at them later holds no lock
    (with busy timeout 0, the others would fail with "database is locked")."""

    def write(i):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 0")
        rows = []
        for _ in range(5):
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO signatures_countdelta (letter_id, signatures, verified) "
                    "VALUES (%s, 1, 0) RETURNING id",
                    [letter.pk],
                )
                threading.Event().wait(0.002)  # the others write meanwhile
                rows.append(cursor.fetchone())
                assert cursor.fetchone() is None
        return len({row[0] for row in rows})

    assert run_at_once(write, 8) == [5] * 8
    assert CountDelta.objects.filter(letter=letter).count() == 40


HOLD_WRITE = """
import os, time
from django.db import transaction
from undersigned.signatures.models import CountDelta
with transaction.atomic():
    CountDelta.objects.create(letter_id=int(os.environ["LETTER_ID"]), signatures=1)
    print("holding", flush=True)
    time.sleep(0.5)
"""


@pytest.mark.parametrize("in_transaction", [True, False], ids=["transaction", "autocommit"])
def test_processes_take_turns_at_writing_without_sqlite_polling(letter, in_transaction):
    """Another process holds a write transaction for half a second; this one, which gives
    up at once when SQLite's lock is taken (busy timeout 0), still writes: it waited its turn
    on the queue beside the database. PostgreSQL: both simply write."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    other = subprocess.Popen(
        [sys.executable, "-m", "django", "shell", "--no-imports", "-c", HOLD_WRITE],
        env={**subprocess_env(), "LETTER_ID": str(letter.pk)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "holding"
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 0")
        if in_transaction:
            with transaction.atomic():
                CountDelta.objects.create(letter_id=letter.pk, signatures=1)
        else:
            CountDelta.objects.create(letter_id=letter.pk, signatures=1)
    finally:
        assert other.wait(30) == 0
        connection.close()
    assert CountDelta.objects.filter(letter=letter).count() == 2
