"""The outbox worker: real SMTP, outages, killed workers, several workers, clean shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import Inbox, free_port, mails_to, subprocess_env
from undersigned.outbox import mail, sending
from undersigned.outbox.models import OutgoingEmail

pytestmark = pytest.mark.django_db
Status = OutgoingEmail.Status


def queue(letter, n=1):
    for i in range(n):
        mail.send_confirmation(f"person{i}@example.org", letter, f"token-{i}", f"receipt-{i}")


def test_a_mail_waits_while_smtp_is_down_and_goes_when_it_returns(letter, settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    queue(letter)

    assert sending.send_batch() == 0  # nothing listens on the port
    row = OutgoingEmail.objects.get()
    assert row.status == Status.QUEUED and row.attempts == 1 and row.last_error
    assert row.retry_after > timezone.now()
    assert sending.send_batch() == 0  # not due yet: backoff
    assert OutgoingEmail.objects.get().attempts == 1

    inbox = Inbox(port)
    inbox.controller.start()
    try:
        with time_machine.travel(timezone.now() + timedelta(minutes=1)):
            assert sending.send_batch() == 1
        inbox.wait_for(1)
    finally:
        inbox.controller.stop()
    row.refresh_from_db()
    assert row.status == Status.SENT and row.sent_at is not None


def test_backoff_grows_and_is_capped():
    assert sending.backoff(1) == timedelta(seconds=5)
    assert sending.backoff(2) == timedelta(seconds=10)
    assert sending.backoff(30) == timedelta(hours=1)


def test_a_claim_left_by_a_killed_worker_is_sent_again_later(letter, smtp_server):
    queue(letter)
    [row] = sending.claim()  # a worker claims the row, then dies before sending
    assert sending.send_batch() == 0  # another worker does not take a live claim
    sending.release_stale_claims()
    assert OutgoingEmail.objects.get().status == Status.SENDING
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert sending.release_stale_claims() == 1
        assert sending.send_batch() == 1
    smtp_server.wait_for(1)


def test_two_workers_never_claim_the_same_mail(letter):
    queue(letter, 10)
    first = sending.claim(batch=6)
    second = sending.claim(batch=6)
    assert len(first) == 6 and len(second) == 4
    assert not {r.pk for r in first} & {r.pk for r in second}


def test_many_mails_go_over_one_connection(letter, smtp_server):
    queue(letter, 25)
    assert sending.send_batch(batch=100) == 25
    assert len(smtp_server.wait_for(25)) == 25
    assert OutgoingEmail.objects.filter(status=Status.SENT).count() == 25


@pytest.mark.django_db(transaction=True)
def test_the_worker_command_sends_and_drains_on_sigterm(letter, smtp_server):
    queue(letter, 3)
    env = {**subprocess_env(), "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "undersigned", "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        line = ""
        while "Worker running" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        assert "Worker running" in line
        smtp_server.wait_for(3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        output = process.stdout.read()
        assert "worker stopped" in output and "Traceback" not in output
    finally:
        if process.poll() is None:
            process.kill()


def test_mail_that_waited_for_an_unreachable_server_goes_as_soon_as_it_answers(letter, settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    queue(letter)
    assert sending.send_batch() == 0  # unreachable: backs off
    assert OutgoingEmail.objects.get().retry_after > timezone.now()

    inbox = Inbox(port)
    inbox.controller.start()
    try:
        mail.send_confirmation("late@example.org", letter, "token-late", "receipt-late")
        assert sending.send_batch() == 1  # the new mail; the waiting one is due again now
        assert sending.send_batch() == 1  # no waiting out the backoff
        inbox.wait_for(2)
    finally:
        inbox.controller.stop()
    assert OutgoingEmail.objects.filter(status=Status.SENT).count() == 2


class RefusingInbox(Inbox):
    """An SMTP server that refuses some recipients, as a real one refuses unknown users."""

    def __init__(self, port: int, refused: set[str]):
        super().__init__(port)
        self.refused = refused

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_recipient_waits_for_a_retry_and_the_rest_of_the_batch_goes(letter, settings):
    inbox = RefusingInbox(free_port(), refused={"person2@example.org"})
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", inbox.port
    queue(letter, 5)
    inbox.controller.start()
    try:
        assert sending.send_batch() == 4
        received = inbox.wait_for(4)
    finally:
        inbox.controller.stop()

    assert sorted(to for rcpt_tos, _ in received for to in rcpt_tos) == [
        f"person{i}@example.org" for i in (0, 1, 3, 4)
    ]
    for _, message in received:  # both parts arrive whole
        assert "/v/token-" in Inbox.text(message)
        assert "/v/token-" in message.get_body(preferencelist=("html",)).get_content()
    [refused] = mails_to("person2@example.org")
    assert refused.status == Status.QUEUED and refused.attempts == 1
    assert refused.last_error == "SMTPRecipientsRefused" and refused.claimed_by == ""
    assert refused.retry_after > timezone.now()
    sent = OutgoingEmail.objects.exclude(pk=refused.pk)
    assert [(row.status, row.to, row.subject, row.body_text, row.body_html) for row in sent] == [
        (Status.SENT, "", "", "", "")
    ] * 4
    assert all(row.sent_at is not None for row in sent)
