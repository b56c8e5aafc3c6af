"""Personas and real parts: an organizer, a co-organizer, an outsider; letters in each state;
a real SMTP server on loopback; the worker's loop."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.cache import cache
from django.test import Client

from undersigned.accounts import factors, reset
from undersigned.events.fanout import fan_out
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.outbox import sending
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import counting, services
from undersigned.web.caching import recent
from undersigned.worker import Worker

BODY = "We ask for **one** thing.\n\n- safe streets\n- clean air\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def organizer(django_user_model):
    return django_user_model.objects.create_user("olivia", "olivia@example.org", "pw-olivia-123")


@pytest.fixture
def co_organizer(django_user_model):
    return django_user_model.objects.create_user("carlos", "carlos@example.org", "pw-carlos-123")


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("mallory", "mallory@example.org", "pw-mallory-123")


def make_letter(organizers=(), status=Letter.Status.OPEN, slug="clean-air", **fields) -> Letter:
    letter = Letter(
        slug=slug,
        title=fields.pop("title", "Clean air for Riverside"),
        body=BODY,
        addressed_to="Riverside Council",
        **fields,
    )
    letter_services.create(letter, organizers, via="command", publish=status != Letter.Status.DRAFT)
    if status == Letter.Status.CLOSED:
        letter_services.close(letter, via="command")
    return letter


@pytest.fixture
def letter(organizer, co_organizer):
    return make_letter([organizer, co_organizer])


@pytest.fixture
def draft_letter(organizer):
    return make_letter([organizer], status=Letter.Status.DRAFT, slug="draft-letter")


@pytest.fixture
def closed_letter(organizer):
    return make_letter([organizer], status=Letter.Status.CLOSED, slug="closed-letter")


def settle() -> None:
    """What the worker does first: record every signature waiting in the intake (which also
    queues their mails), and queue the mails that events set off."""
    while services.record_intake():
        pass
    while fan_out():
        pass
    while reset.send_requested():
        pass


def drain() -> None:
    """What the worker does, run to completion: send every due mail, fold the counts. Then
    let this process's second-long cache expire, as it would before anyone looked again."""
    settle()
    while sending.send_batch():
        pass
    while counting.apply_deltas():
        pass
    recent.clear()


def mails_to(address: str, kind: str | None = None) -> list[OutgoingEmail]:
    """The outbox rows for ``address``, oldest first. The address is encrypted at rest, so no
    query can select by it: each row is read (and decrypted) here."""
    rows = OutgoingEmail.objects.order_by("id")
    if kind:
        rows = rows.filter(kind=kind)
    return [row for row in rows if row.to.lower() == address.lower()]


def confirmation_token(message_body: str) -> str:
    """The token in the link of a confirmation mail."""
    for word in message_body.split():
        if "/v/" in word:
            return word.rsplit("/v/", 1)[1]
    raise AssertionError(f"no confirmation link in: {message_body!r}")


def last_token() -> str:
    settle()
    row = OutgoingEmail.objects.filter(kind="confirm").latest("id")
    return confirmation_token(row.body_text)


class Inbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self, port: int):
        self.port = port
        self.messages = []
        self.arrivals: list[tuple[float, list[str]]] = []  # (time.time(), recipients)
        self.received = threading.Condition()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.received:
            self.messages.append((envelope.rcpt_tos, message))
            self.arrivals.append((time.time(), list(envelope.rcpt_tos)))
            self.received.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        with self.received:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mails, got {len(self.messages)}")
                self.received.wait(left)
        return self.messages[:count]

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox(free_port())
    inbox.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = inbox.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield inbox
    inbox.controller.stop()


@pytest.fixture
def worker_thread(transactional_db):
    """The real worker loop in a thread, with a short idle sleep."""
    worker = Worker(count_every=0.2, idle_sleep=0.05)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop()
    thread.join(10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A throwaway Redis server on a free loopback port, nothing kept on disk (what
    ``REDIS_URL`` points the app servers and workers at); scripts/system-deps installs it."""
    import shutil
    import subprocess

    import redis

    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run scripts/system-deps (or make test)"
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        assert server.poll() is None, "redis-server exited"
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not answer within 20 s"
            time.sleep(0.05)
    yield client, url
    server.terminate()
    server.wait(10)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The Redis server's URL, emptied for each test."""
    client, url = redis_server
    client.flushall()
    return url


_password_only_login = Client.force_login


def login_without_factor(client: Client, user) -> None:
    """Log ``user`` in as their password alone does: the session has not shown a factor."""
    _password_only_login(client, user, "django.contrib.auth.backends.ModelBackend")


@pytest.fixture(autouse=True)
def _force_login_shows_a_second_factor(monkeypatch):
    """``client.force_login`` skips the log-in form; here it also skips the form's second
    step, by marking the session exactly as a correct code or passkey does
    (``factors.mark_session``: verified, authenticated now). The production check is the
    same; tests of the two steps and of re-authentication use ``login_without_factor`` or
    the forms themselves."""

    def force_login(self, user, backend=None):
        _password_only_login(self, user, backend)
        session = self.session
        factors.mark_session(session, user)
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _clear_mail_and_caches():
    mail.outbox = []
    cache.clear()
    recent.clear()


def in_threads(task, items: list, threads: int, together: bool = False) -> list:
    """``task(item)`` for every item from ``threads`` threads at once, each with its own
    database connection (``together``: they all start at the same moment, for races); the
    results in the order of ``items``. Fails if any task raised or a thread hangs."""
    from django.db import connection

    results, errors = [None] * len(items), []
    barrier = threading.Barrier(threads)

    def run(offset: int) -> None:
        try:
            if together:
                barrier.wait(timeout=10)
            for i in range(offset, len(items), threads):
                results[i] = task(items[i])
        except Exception as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    assert not any(thread.is_alive() for thread in pool), "a thread is still running after 60 s"
    assert not errors, errors
    return results


def subprocess_env() -> dict:
    """Environment for an ``undersigned`` subprocess that uses the test database."""
    import os

    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "undersigned.settings", "DATABASE_URL": url}


def query_plan(queryset) -> str:
    """The database's plan for ``queryset``, with its parameters bound as the app binds them."""
    from django.db import connection, transaction

    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A tiny test table, where scanning and sorting cost next to nothing: ask what the
            # planner would do if they were dear, as they are with a million rows.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())
