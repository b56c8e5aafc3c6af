"""Faults a deployment meets, with real processes on the test database (SQLite or PostgreSQL):
a worker killed with SIGKILL in the middle of a batch, two workers sharing the outbox and the
counter, two app servers and two workers at once. Mail goes to real SMTP servers on loopback.

PostgreSQL restarting under load and SMTP down for a minute take real time and a PostgreSQL
server of their own that they may restart: bench/faults.py runs them (and prints what
happened), and the last test here runs it once, in the PostgreSQL pass."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import (
    Inbox,
    confirmation_token,
    free_port,
    in_threads,
    settle,
    subprocess_env,
)
from undersigned.letters.models import Letter
from undersigned.moderation.models import Policy
from undersigned.outbox import mail
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import counting, services
from undersigned.signatures.models import CountDelta, Intake, Signature

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
Status = OutgoingEmail.Status
CLAIM_TIMEOUT = 5  # seconds: the least UNDERSIGNED_MAIL_CLAIM_TIMEOUT accepts


class SlowInbox(Inbox):
    """An SMTP server that keeps each mail, then waits ``delay`` seconds before it answers 250,
    as a real server queues a mail before it replies: a sender killed while it waits has
    delivered a mail that it did not record as sent."""

    def __init__(self, port: int, delay: float = 0.0):
        super().__init__(port)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer


@contextmanager
def inboxes(count: int, delay: float = 0.0):
    with ExitStack() as stack:
        boxes = []
        for _ in range(count):
            box = SlowInbox(free_port(), delay)
            box.controller.start()
            stack.callback(box.controller.stop)
            boxes.append(box)
        yield boxes


def recipients(*boxes: Inbox) -> Counter:
    """How many mails each address received, over all ``boxes``."""
    return Counter(to for box in boxes for rcpt_tos, _ in list(box.messages) for to in rcpt_tos)


def assert_each_arrived_once(received: Counter, addresses: list[str]) -> None:
    missing = sorted(set(addresses) - set(received))
    twice = {address: n for address, n in received.items() if n > 1}
    unexpected = sorted(set(received) - set(addresses))
    assert not (missing or twice or unexpected), (
        f"{len(missing)} missing {missing[:3]}, {len(twice)} more than once {list(twice)[:3]}, "
        f"{len(unexpected)} unexpected {unexpected[:3]}"
    )


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)


class Processes:
    """``undersigned`` subprocesses on the test database, each in a session of its own with its
    output in a file; whatever is still running at the end is stopped."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.running: list[subprocess.Popen] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        log = (self.tmp_path / f"{args[0]}-{len(self.running)}.log").open("w+b")
        process = subprocess.Popen(
            [sys.executable, "-m", "undersigned", *args],
            env={**subprocess_env(), "PYTHONUNBUFFERED": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = log  # read by output()
        self.running.append(process)
        return process

    def worker(self, inbox: Inbox, **env: str) -> subprocess.Popen:
        return self.start("worker", EMAIL_URL=f"smtp://127.0.0.1:{inbox.port}", **env)

    def serve(self, name: str, **env: str) -> str:
        """Start an app server with a data folder of its own; return its base URL once it
        answers."""
        port = free_port()
        process = self.start(
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            UNDERSIGNED_DATA_DIR=str(self.tmp_path / name),
            UNDERSIGNED_RATE_LIMIT_ALLOW="127.0.0.0/8",
            **env,
        )
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, output(process)
            try:
                return http("GET", f"{base}/ping")[0] == 200
            except OSError:
                return False

        wait_until(up, 60, f"the server on port {port} answers")
        return base

    def stop(self, process: subprocess.Popen) -> str:
        """SIGTERM, as an operator stops it; return its output."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
                raise AssertionError(f"{process.args} did not stop on SIGTERM in 15 s") from None
        return output(process)

    def close(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: only what we started
                process.wait(timeout=15)
            process.log.close()


def output(process: subprocess.Popen) -> str:
    process.log.flush()
    process.log.seek(0)
    return process.log.read().decode(errors="replace")


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path)
    yield started
    started.close()


def http(method: str, url: str, body: bytes | None = None, kind: str = "json") -> tuple[int, str]:
    """A request (with ``body`` as JSON, or as a form) and its answer's status and text."""
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310  loopback
    if body is not None:
        request.add_header("Content-Type", f"application/{kind}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def confirm_over_http(base: str, token: str) -> tuple[int, str]:
    """What a person does: open the link (a page with a button), press the button."""
    status, page = http("GET", f"{base}/v/{token}")
    assert status == 200 and "<form" in page, page
    return http("POST", f"{base}/v/{token}", b"", "x-www-form-urlencoded")


@contextmanager
def counters(count: int, seconds: float = 30):
    """``count`` more counters in threads, each folding the journal every few milliseconds
    (bounded in rounds and time), so that counters overlap far more often than the workers'
    once a second would make them. (Without pauses, on SQLite, they would starve the other
    writers past the busy timeout.)"""
    stop, errors = threading.Event(), []

    def fold() -> None:
        deadline = time.monotonic() + seconds
        try:
            for _ in range(100_000):
                if stop.wait(0.005) or time.monotonic() > deadline:
                    break
                counting.apply_deltas()
        except Exception as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=fold) for _ in range(count)]
    for thread in pool:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in pool:
            thread.join(seconds)
    assert not errors, errors


def settled_count(letter: Letter, expected: int) -> int:
    """The letter's count once the counters have folded the journal (bounded wait)."""

    def folded() -> bool:
        return not CountDelta.objects.exists() and (
            Letter.objects.get(pk=letter.pk).signature_count >= expected
        )

    wait_until(folded, 20, "the counters fold every confirmation")
    return Letter.objects.get(pk=letter.pk).signature_count


def test_a_worker_killed_mid_batch_loses_no_mail_and_repeats_only_the_one_in_flight(
    letter, processes
):
    addresses = [f"person{i}@example.org" for i in range(200)]
    for i, address in enumerate(addresses):
        mail.send_confirmation(address, letter, f"token-{i}", f"receipt-{i}")

    with inboxes(1, delay=0.01) as [inbox]:
        first = processes.worker(inbox)
        inbox.wait_for(30, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert 30 <= len(inbox.messages) < 100  # in the middle of its first batch of 100
        left_claimed = {
            row.to: row.claimed_at for row in OutgoingEmail.objects.filter(status=Status.SENDING)
        }
        assert left_claimed  # it died holding claims

        # The next worker sends what is queued at once, and what the dead one had claimed
        # once the claims are older than UNDERSIGNED_MAIL_CLAIM_TIMEOUT.
        second = processes.worker(inbox, UNDERSIGNED_MAIL_CLAIM_TIMEOUT=str(CLAIM_TIMEOUT))
        wait_until(
            lambda: not OutgoingEmail.objects.exclude(status=Status.SENT).exists(),
            30,
            "the second worker sends the rest",
        )
        log = processes.stop(second)

    received = recipients(inbox)
    assert set(received) == set(addresses)  # every mail arrived
    assert max(received.values()) <= 2
    # Only the mail on the wire when the worker died can go twice.
    assert sum(received.values()) - len(addresses) <= 1, received.most_common(3)
    assert OutgoingEmail.objects.filter(status=Status.SENT).count() == 200
    # A claim is taken over only once it is stale, never while it may still be live. (The
    # rows keep only the hour they were sent: the SMTP server says when each mail came.)
    for address, claimed_at in left_claimed.items():
        last = max(at for at, to in inbox.arrivals if address in to)
        assert last - claimed_at.timestamp() >= CLAIM_TIMEOUT, address
    assert "Traceback" not in log, log


def test_two_workers_share_the_outbox_and_the_counter_without_loss_or_repeats(letter, processes):
    emails = [f"signer{i}@org{i}.example" for i in range(300)]
    for email in emails:
        services.sign(letter, services.SignatureData(name="A signer", email=email))
    settle()
    tokens = [
        confirmation_token(row.body_text) for row in OutgoingEmail.objects.filter(kind="confirm")
    ]
    assert len(tokens) == 300

    with inboxes(2, delay=0.005) as boxes, counters(2):
        workers = [processes.worker(box) for box in boxes]
        # Meanwhile the signers confirm: journal rows that both workers' counters (once a
        # second) and two more in threads (every few milliseconds) fold at once.
        confirmed = in_threads(
            lambda token: services.confirm(token).letter_id is not None, tokens, 4
        )
        assert confirmed == [True] * 300
        # 300 confirmations, and to each of the two organizers the milestones 100 and 300.
        wait_until(lambda: sum(len(b.messages) for b in boxes) >= 304, 30, "304 mails arrive")
        count = settled_count(letter, 300)
        logs = [processes.stop(worker) for worker in workers]
        received = recipients(*boxes)

    organizers = {"olivia@example.org": 2, "carlos@example.org": 2}
    assert {address: received.pop(address, 0) for address in organizers} == organizers
    assert_each_arrived_once(received, emails)
    assert all(box.messages for box in boxes), "both workers sent mail"
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {Status.SENT}
    assert count == Signature.objects.counted().count() == Signature.objects.confirmed().count()
    assert count == 300
    assert counting.reconcile() == []  # nothing to correct
    for log in logs:
        assert "worker stopped" in log and "Traceback" not in log, log


def test_two_app_servers_and_two_workers_count_each_confirmed_signature_once(letter, processes):
    emails = [f"crowd{i}@org{i}.example" for i in range(200)]
    with inboxes(2) as boxes:
        servers = [processes.serve("server-a"), processes.serve("server-b")]
        for box in boxes:
            processes.worker(box)

        def sign(i: int) -> int:
            payload = {"name": f"Signer {i}", "email": emails[i], "display": "public"}
            url = f"{servers[i % 2]}/api/v1/letters/{letter.slug}/signatures"
            return http("POST", url, json.dumps(payload).encode())[0]

        assert in_threads(sign, list(range(200)), 8) == [202] * 200
        wait_until(lambda: sum(len(b.messages) for b in boxes) >= 200, 30, "200 mails arrive")
        received = recipients(*boxes)
        tokens = {
            rcpt_tos[0]: confirmation_token(Inbox.text(message))
            for box in boxes
            for rcpt_tos, message in box.messages
        }

        def confirm(i: int) -> bool:  # through the other server than the one signed on
            status, page = confirm_over_http(servers[(i + 1) % 2], tokens[emails[i]])
            return status == 200 and "your signature is confirmed" in page

        assert in_threads(confirm, list(range(200)), 8) == [True] * 200
        count = settled_count(letter, 200)
        logs = [processes.stop(process) for process in processes.running]

    assert_each_arrived_once(received, emails)
    assert count == Signature.objects.counted().count() == Signature.objects.confirmed().count()
    assert count == Signature.objects.filter(letter=letter).count() == 200
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {Status.SENT}
    assert counting.reconcile() == []
    for log in logs:
        assert "Traceback" not in log, log


def test_with_redis_two_app_servers_and_two_workers_share_the_limits_and_the_count(
    letter, processes, redis_url
):
    # One domain over its limit, half through each server: with REDIS_URL the servers count
    # it together, so 10 of the 30 count (each process counting alone would let 20 through);
    # two workers share the outbox and the counter, and every mail still goes once.
    Policy(pk=1, burst_per_domain=10, sustained_per_domain=1000).save()
    emails = [f"crowd{i}@crowd.example" for i in range(30)]
    with inboxes(1) as (box,):
        servers = [processes.serve(name, REDIS_URL=redis_url) for name in ("a", "b")]
        for _ in range(2):
            processes.worker(box, REDIS_URL=redis_url)

        def sign(i: int) -> int:
            payload = {"name": f"Signer {i}", "email": emails[i], "display": "public"}
            url = f"{servers[i % 2]}/api/v1/letters/{letter.slug}/signatures"
            return http("POST", url, json.dumps(payload).encode())[0]

        assert in_threads(sign, list(range(30)), 6) == [202] * 30
        wait_until(lambda: len(box.messages) >= 30, 30, "30 mails arrive")
        tokens = [confirmation_token(Inbox.text(message)) for _, message in box.messages]
        for i, token in enumerate(tokens):
            assert confirm_over_http(servers[i % 2], token)[0] == 200
        assert settled_count(letter, 10) == 10

        def counts() -> list[int]:
            path = f"/api/v1/letters/{letter.slug}/count"
            return [json.loads(http("GET", base + path)[1])["signature_count"] for base in servers]

        wait_until(lambda: counts() == [10, 10], 10, "both servers show the counter's count")
        logs = [processes.stop(process) for process in processes.running]
        received = recipients(box)

    assert_each_arrived_once(received, emails)
    assert counting.reconcile() == []
    flags = Counter(Signature.objects.filter(letter=letter).values_list("flag", flat=True))
    assert flags == {"": 10, "rate-domain": 20}
    assert Signature.objects.confirmed().count() == 30
    for log in logs:
        assert "Traceback" not in log, log


def test_a_shared_cache_that_does_not_answer_gets_a_clean_503_and_nothing_is_written(
    letter, processes
):
    closed = free_port()  # nothing listens there
    server = processes.serve("no-redis", REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    payload = json.dumps({"name": "Sam", "email": "sam@example.org"}).encode()
    status, body = http("POST", f"{server}/api/v1/letters/{letter.slug}/signatures", payload)
    assert status == 503 and "nothing was saved" in json.loads(body)["error"]
    status, body = http("GET", f"{server}/api/v1/letters/{letter.slug}/count")
    assert status == 503 and "error" in json.loads(body)
    assert not Intake.objects.exists() and not Signature.objects.exists()
    log = processes.stop(processes.running[0])
    assert "Traceback" not in log, log


FAULTS = Path(__file__).resolve().parent.parent / "bench" / "faults.py"
WITH_POSTGRES = FAULTS.parent.parent / "scripts" / "with-postgres"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs a server of its own: the PostgreSQL pass"
)
def test_a_postgresql_restart_under_load_and_a_minute_without_smtp_lose_nothing():
    # bench/faults.py on a throwaway PostgreSQL of its own (not the test database's server,
    # which it restarts): signing through the API while PostgreSQL restarts, then a minute
    # with nothing on the SMTP port. It exits 1 with the broken promises listed.
    done = subprocess.run(
        [str(WITH_POSTGRES), sys.executable, str(FAULTS), "--seconds", "6", "--smtp-down", "60"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0 and "No violations." in report, report
    assert "lost acknowledged signatures: 0" in report, report
    assert "503 answers from" in report, f"no request met the outage:\n{report}"
