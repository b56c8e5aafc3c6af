"""Faults that take real time, against a fresh instance on PostgreSQL:

    scripts/with-postgres .venv/bin/python bench/faults.py [--seconds 20] [--smtp-down 60]
        [--only postgres-restart|smtp-down]

1. **PostgreSQL restarts during a signing load.** ``undersigned serve`` and ``undersigned
   worker`` run against DATABASE_URL; threads sign the letter through the API, each request
   with a new email, for --seconds, and record every answer. Meanwhile PostgreSQL restarts
   (``pg_ctl restart -m fast``, as the postgres user when run as root). Afterwards: answers
   during the outage must be clean 503s (JSON ``{"error": ...}`` with ``Retry-After``), never a
   500; connections that failed before the server answered are counted apart; every email
   answered 202 must have its signature in the database (lost acknowledged signatures: 0) and
   get its confirmation mail.
2. **SMTP down for a minute.** The worker runs while nothing listens on its SMTP port; mail is
   queued before and during the outage; then an SMTP server comes back on that port, and every
   mail must arrive, exactly once, with the outbox all sent, the worker still running.

Every loop is bounded in count and time; everything listens on 127.0.0.1. Prints a report and
exits 1 if a fault broke a promise (2 if the bench could not run)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402  (after the path is set)
    BIN,
    BenchError,
    free_port,
    instance_env,
    manage,
    shell_json,
    start,
    start_server,
    stop,
    tail,
)

REQUEST_TIMEOUT = 15  # seconds a signing request may take before it counts as timed out
MAX_REQUESTS_PER_THREAD = 50_000
# UNDERSIGNED_MAIL_CLAIM_TIMEOUT for the worker (the least it takes): the rest of a batch that
# failed because the database went away goes out again this long after it was claimed.
CLAIM_TIMEOUT = 5
MAIL_WAIT_SECONDS = 60  # after the load, for the worker to send every confirmation mail

# Run by `undersigned shell -c`: which of the emails in $FAULTS_EMAILS have a signature on the
# letter $FAULTS_SLUG (only keyed hashes are stored: hash each email the same way), and the
# outbox by status.
CHECK_ROWS = """
import json, os
from collections import Counter
from undersigned.letters.models import Letter
from undersigned.lib.emails import canonical_email
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Signature
letter = Letter.objects.get(slug=os.environ["FAULTS_SLUG"])
with open(os.environ["FAULTS_EMAILS"]) as f:
    emails = json.load(f)
stored = set(Signature.objects.filter(letter=letter).values_list("email_hash", flat=True))
print(json.dumps({
    "stored": [e for e in emails if letter.email_hash(canonical_email(e)) in stored],
    "rows": len(stored),
    "outbox": dict(Counter(OutgoingEmail.objects.values_list("status", flat=True))),
    "max_attempts": max(OutgoingEmail.objects.values_list("attempts", flat=True), default=0),
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of the signing load")
    parser.add_argument("--threads", type=int, default=6, help="signing threads")
    parser.add_argument("--workers", type=int, default=2, help="app server worker processes")
    parser.add_argument(
        "--smtp-down", type=int, default=60, help="seconds the SMTP server stays down"
    )
    parser.add_argument("--only", choices=["postgres-restart", "smtp-down"])
    args = parser.parse_args()
    if not 5 <= args.seconds <= 300 or not 1 <= args.threads <= 64:
        parser.error("--seconds must be 5-300 and --threads 1-64")
    if not 1 <= args.workers <= 16 or not 2 <= args.smtp_down <= 600:
        parser.error("--workers must be 1-16 and --smtp-down 2-600")
    missing = [v for v in ("DATABASE_URL", "PG_BIN", "PG_DATA_DIR") if not os.environ.get(v)]
    if missing or not os.environ["DATABASE_URL"].startswith("postgres"):
        parser.error("needs a PostgreSQL that it may restart: run it under scripts/with-postgres")
    # A SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so that the processes stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    violations: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="undersigned-faults-") as tmp:
            env = instance_env("postgres", Path(tmp))
            (Path(tmp) / "data").mkdir()
            manage(env, "migrate", "--no-input", "-v", "0")
            if args.only in (None, "postgres-restart"):
                violations += postgres_restart(args, env, Path(tmp))
            if args.only in (None, "smtp-down"):
                violations += smtp_down(args, env, Path(tmp))
    except BenchError as exc:
        print(f"bench/faults.py: {exc}", file=sys.stderr)
        return 2
    print()
    if violations:
        print("VIOLATIONS:")
        for violation in violations:
            print(f"  - {violation}")
        return 1
    print("No violations.")
    return 0


# -- PostgreSQL restarts during a signing load ----------------------------------------------


@dataclass
class Answer:
    email: str
    sent: float  # seconds since the load started
    answered: float
    outcome: str  # the HTTP status ("202", "503", ...) or why there was none ("refused", ...)
    clean: bool = True  # for a 503: JSON {"error": ...} with Retry-After


def postgres_restart(args, env: dict, tmp: Path) -> list[str]:
    print(f"== PostgreSQL restarts during a {args.seconds} s signing load ==")
    slug = new_letter(env, tmp, "restart")
    inbox = Inbox(free_port())
    inbox.start()
    port = free_port()
    worker = server = None
    try:
        worker = start_worker(env, tmp, inbox.port, "restart")
        server = start_server(env, tmp, tmp / "server-restart.log", port, args.workers, 4)
        probe = DatabaseProbe(os.environ["DATABASE_URL"])
        probe.start()
        load = SigningLoad(f"127.0.0.1:{port}", slug, args.threads, args.seconds)
        load.start()
        time.sleep(args.seconds * 0.3)  # signing at full speed before the restart
        restart = restart_postgres(load.elapsed())
        back = datetime.now(UTC)
        time.sleep(2)  # for the worker to notice and try again
        stranded = stranded_claims(back)
        load.join()
        probe.stop()
        alive = {"server": server.poll() is None, "worker": worker.poll() is None}
        worker_log = (tmp / "worker-restart.log").read_text(errors="replace")
        server_log = (tmp / "server-restart.log").read_text(errors="replace")
        answers = load.answers
        accepted = [a.email for a in answers if a.outcome == "202"]
        mail = wait_for_mail(inbox, set(accepted))
        rows = check_rows(env, slug, [a.email for a in answers], tmp)
    finally:
        stop(server)
        stop(worker)
        inbox.stop()

    stored = set(rows["stored"])
    by_outcome = Counter(a.outcome for a in answers)
    unavailable = [a for a in answers if a.outcome == "503"]
    no_answer = [a for a in answers if not a.outcome.isdigit()]
    lost = [e for e in accepted if e not in stored]
    outage = probe.outage()
    print(f"answers by status: {dict(sorted(by_outcome.items()))} ({len(answers)} requests)")
    print(
        f"restart: pg_ctl took {restart['seconds']:.2f} s (from {restart['at']:.1f} s into the "
        f"load); the database refused connections for {outage:.2f} s"
    )
    if unavailable:
        first, last = unavailable[0].sent, max(a.answered for a in unavailable)
        clean = sum(a.clean for a in unavailable)
        print(
            f"503 answers from {first:.1f} s to {last:.1f} s into the load: {len(unavailable)}, "
            f"{clean} clean JSON with Retry-After; "
            f"{sum(a.email in stored for a in unavailable)} of them saved anyway"
        )
    print(
        f"no answer (connection refused/closed/timed out): {len(no_answer)}; "
        f"{sum(a.email in stored for a in no_answer)} of them saved"
    )
    print(
        f"acknowledged (202): {len(accepted)}; in the database: {len(accepted) - len(lost)}; "
        f"lost acknowledged signatures: {len(lost)}"
    )
    print(
        f"confirmation mails: {mail['delivered']} of {len(accepted)} acknowledged signers got "
        f"theirs ({mail['duplicates']} mails went twice), the last {mail['last_after']:.1f} s "
        f"after the load; outbox (whole instance) {rows['outbox']}"
    )
    print(
        f"claims stranded by the restart (made before it, still unfinished 2 s after it): "
        f"{stranded} mails; they wait for UNDERSIGNED_MAIL_CLAIM_TIMEOUT ({CLAIM_TIMEOUT} s "
        f"here, 300 s by default)"
    )
    print(f"processes alive after the restart: {alive}")
    print(
        f"worker: {worker_log.count('worker round failed')} rounds failed; server log: "
        f"{server_log.count('database unavailable')} 'database unavailable' warnings, "
        f"{server_log.count('Traceback')} tracebacks"
    )
    slowest = max(answers, key=lambda a: a.answered - a.sent)
    print(
        f"slowest answer: {slowest.answered - slowest.sent:.2f} s ({slowest.outcome}, sent "
        f"{slowest.sent:.1f} s into the load)"
    )
    if mail["twice"]:
        # The worker sent these, then lost the database before it recorded them as sent: the
        # outbox promises at least once, so this is allowed; the report says why it happened.
        failures = Counter(
            line.split(":")[0] + ": " + line.split(":", 1)[1].strip()[:60]
            for line in worker_log.splitlines()
            if line.startswith("django.db.utils.")
        )
        print(f"went twice: {mail['twice'][:5]}; the worker's failed rounds: {dict(failures)}")

    violations = []
    errors = {k: n for k, n in by_outcome.items() if k.startswith("5") and k != "503"}
    if errors:
        violations.append(f"postgres-restart: server errors during the outage: {errors}")
    others = {k: n for k, n in by_outcome.items() if k.isdigit() and k[0] != "5" and k != "202"}
    if others:
        violations.append(f"postgres-restart: unexpected answers: {others}")
    if any(not a.clean for a in unavailable):
        violations.append("postgres-restart: a 503 without a JSON error and Retry-After")
    if lost:
        violations.append(f"postgres-restart: {len(lost)} acknowledged signatures lost: {lost[:5]}")
    if mail["missing"]:
        violations.append(
            f"postgres-restart: {len(mail['missing'])} acknowledged signers got no "
            f"confirmation mail (outbox {rows['outbox']}): {sorted(mail['missing'])[:5]}"
        )
    if rows["rows"] != len(stored):
        violations.append(f"postgres-restart: {rows['rows'] - len(stored)} rows nobody signed")
    if not all(alive.values()):
        violations.append(f"postgres-restart: a process died: {alive}")
    if restart["returncode"] != 0:
        violations.append(f"postgres-restart: pg_ctl failed: {restart['output']}")
    if set(by_outcome) == {"202"}:
        print("NOTE: no request met the outage; the restart was too quick to be tested.")
    return violations


class SigningLoad:
    """Threads that each sign with a new email after the other over one keep-alive
    connection (a new one after a failure), for ``seconds``, and record every answer."""

    def __init__(self, address: str, slug: str, threads: int, seconds: float):
        self.host, self.port = address.split(":")
        self.path = f"/api/v1/letters/{slug}/signatures"
        self.seconds = seconds
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        self.started = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def start(self) -> None:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(self.seconds + REQUEST_TIMEOUT + 30)
        if any(thread.is_alive() for thread in self.threads):
            raise BenchError("a signing thread did not finish")

    def run(self, number: int) -> None:
        connection = None
        tag = secrets.token_hex(3)
        for n in range(MAX_REQUESTS_PER_THREAD):
            if self.elapsed() >= self.seconds:
                break
            # A domain each: a per-domain rate limit would flag (not refuse) most of them.
            email = f"signer@restart-{tag}-{number}-{n}.example"
            if connection is None:
                connection = http.client.HTTPConnection(
                    self.host, int(self.port), timeout=REQUEST_TIMEOUT
                )
            sent = self.elapsed()
            answer = self.sign(connection, email, sent)
            if not answer.outcome.isdigit():
                connection.close()
                connection = None
                time.sleep(0.05)  # the server is not there: do not spin
            with self.lock:
                self.answers.append(answer)
        if connection is not None:
            connection.close()

    def sign(self, connection, email: str, sent: float) -> Answer:
        body = json.dumps({"name": "Restart Signer", "email": email}).encode()
        try:
            connection.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            content = response.read()
        except ConnectionRefusedError:
            return Answer(email, sent, self.elapsed(), "refused")
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            return Answer(email, sent, self.elapsed(), "closed")
        except TimeoutError:
            return Answer(email, sent, self.elapsed(), "timeout")
        except (OSError, http.client.HTTPException) as exc:
            return Answer(email, sent, self.elapsed(), type(exc).__name__)
        answer = Answer(email, sent, self.elapsed(), str(response.status))
        if response.status == 503:
            try:
                answer.clean = "error" in json.loads(content) and bool(
                    response.getheader("Retry-After")
                )
            except ValueError:
                answer.clean = False
        return answer


class DatabaseProbe:
    """Opens a new connection to PostgreSQL every 50 ms and records when that fails."""

    def __init__(self, url: str):
        self.url = url
        self.failures: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)

    def run(self) -> None:
        import psycopg

        for _ in range(100_000):  # 50 ms apart: over an hour; stop() ends it first
            if self.done.wait(0.05):
                break
            try:
                with psycopg.connect(self.url, connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
            except psycopg.Error:
                self.failures.append(time.monotonic())

    def outage(self) -> float:
        """From the first failed probe to the last (about how long nobody could connect)."""
        return self.failures[-1] - self.failures[0] + 0.05 if self.failures else 0.0


def restart_postgres(at: float) -> dict:
    data_dir = Path(os.environ["PG_DATA_DIR"])
    command = [
        f"{os.environ['PG_BIN']}/pg_ctl", "-D", str(data_dir), "-l",
        str(data_dir.parent / "restart.log"), "-w", "-t", "60", "restart", "-m", "fast",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError("pg_ctl restart took more than 90 s") from None
    return {
        "at": at,
        "seconds": time.monotonic() - started,
        "returncode": done.returncode,
        "output": (done.stdout + done.stderr).strip()[-500:],
    }


def stranded_claims(back: datetime) -> int:
    """Outbox rows claimed before the database came ``back`` and still being sent: no claim
    can be made while it is down, so these were claimed before it went away."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=10) as connection:
        return connection.execute(
            "SELECT count(*) FROM outbox_outgoingemail WHERE status = 'sending' "
            "AND claimed_at < %s",
            [back],
        ).fetchone()[0]


def wait_for_mail(inbox: Inbox, expected: set[str]) -> dict:
    """Wait until every expected address got its mail. A batch that the worker was sending
    when the database went away stays claimed until the claim times out and the worker's next
    check for stale claims (every half timeout) queues it again."""
    started = time.monotonic()
    deadline = started + MAIL_WAIT_SECONDS
    while time.monotonic() < deadline and not expected <= set(inbox.snapshot()):
        time.sleep(0.5)
    received = inbox.snapshot()
    last = max((t for t in inbox.arrivals), default=started)
    return {
        "delivered": len(expected & set(received)),
        "missing": expected - set(received),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "twice": sorted(address for address, n in received.items() if n > 1),
        "last_after": max(0.0, last - started),
    }


# -- SMTP down for a minute -------------------------------------------------------------------


def smtp_down(args, env: dict, tmp: Path) -> list[str]:
    down = args.smtp_down
    print(f"== SMTP down for {down} s while the worker runs ==")
    slug = new_letter(env, tmp, "smtp")
    inbox = Inbox(free_port())  # not started: nothing listens on its port yet
    port = free_port()
    worker = server = None
    first, second = [f"signer@smtp-{i}.example" for i in range(20)], []
    try:
        worker = start_worker(env, tmp, inbox.port, "smtp")
        server = start_server(env, tmp, tmp / "server-smtp.log", port, 1, 4)
        outage_started = time.monotonic()
        statuses = [sign_once(port, slug, email) for email in first]
        time.sleep(down / 2)
        second = [f"signer@smtp-late-{i}.example" for i in range(20)]
        statuses += [sign_once(port, slug, email) for email in second]
        time.sleep(max(0.0, outage_started + down - time.monotonic()))
        alive_during = worker.poll() is None
        inbox.start()
        back = time.monotonic()
        expected = set(first + second)
        # Backoff doubles from 5 s, so the next attempt comes at most about `down` s later.
        deadline = back + down + 20
        while time.monotonic() < deadline and not expected <= set(inbox.snapshot()):
            time.sleep(0.2)
        last = max(inbox.arrivals, default=back)
        time.sleep(1)  # a mail that went twice would arrive in this second too
        received = inbox.snapshot()
        rows = check_rows(env, slug, sorted(expected), tmp)
        alive_after = worker.poll() is None
    finally:
        stop(server)
        stop(worker)
        inbox.stop()

    missing = expected - set(received)
    twice = {address: n for address, n in received.items() if n > 1}
    print(
        f"signing answers: {dict(Counter(statuses))} ({len(first)} at the start, "
        f"{len(second)} halfway through the outage)"
    )
    print(
        f"after SMTP came back: {len(expected) - len(missing)} of {len(expected)} mails "
        f"arrived, the last {last - back:.1f} s later; {len(twice)} arrived twice; "
        f"most attempts per mail: {rows['max_attempts']}; outbox (whole instance) {rows['outbox']}"
    )
    print(f"worker alive during the outage: {alive_during}, after: {alive_after}")
    violations = []
    if set(statuses) != {202}:
        violations.append(f"smtp-down: signing answered {dict(Counter(statuses))}")
    if missing:
        violations.append(f"smtp-down: {len(missing)} mails never arrived: {sorted(missing)[:5]}")
    if twice:
        violations.append(f"smtp-down: mails arrived twice: {twice}")
    if set(rows["outbox"]) != {"sent"}:
        violations.append(f"smtp-down: the outbox is not all sent: {rows['outbox']}")
    if not (alive_during and alive_after):
        violations.append(f"smtp-down: the worker died:\n{tail(tmp / 'worker-smtp.log')}")
    return violations


def sign_once(port: int, slug: str, email: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        body = json.dumps({"name": "Patient Signer", "email": email}).encode()
        path = f"/api/v1/letters/{slug}/signatures"
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# -- shared parts ----------------------------------------------------------------------------


class Inbox:
    """An SMTP server on loopback (aiosmtpd, in this process) that counts mails by recipient.
    It can be started, stopped and started again on the same port."""

    def __init__(self, port: int):
        self.port = port
        self.received: Counter = Counter()
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        with self.lock:
            self.received.update(envelope.rcpt_tos)
            self.arrivals.append(time.monotonic())
        return "250 OK"

    def snapshot(self) -> Counter:
        with self.lock:
            return Counter(self.received)

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def new_letter(env: dict, tmp: Path, name: str) -> str:
    slug = f"faults-{name}-{secrets.token_hex(3)}"
    body = tmp / "letter.md"
    body.write_text("A letter for the fault benchmark.\n")
    manage(
        env, "letter", "create", slug, "--title", "Faults", "--body-file", str(body), "--publish"
    )
    return slug


def start_worker(env: dict, tmp: Path, smtp_port: int, name: str) -> subprocess.Popen:
    worker_env = {
        **env,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "UNDERSIGNED_MAIL_CLAIM_TIMEOUT": str(CLAIM_TIMEOUT),
    }
    log = tmp / f"worker-{name}.log"
    worker = start([BIN / "undersigned", "worker"], worker_env, tmp, log)
    time.sleep(1)
    if worker.poll() is not None:
        raise BenchError(f"the worker exited with {worker.returncode}:\n{tail(log)}")
    return worker


def check_rows(env: dict, slug: str, emails: list[str], tmp: Path) -> dict:
    path = tmp / f"emails-{slug}.json"
    path.write_text(json.dumps(emails))
    return shell_json({**env, "FAULTS_SLUG": slug, "FAULTS_EMAILS": str(path)}, CHECK_ROWS)


if __name__ == "__main__":
    sys.exit(main())
