"""The outbox worker's verbs: claim due rows, send them over one SMTP connection, record the
outcome. Several workers may run at once: a row is sent by whoever's conditional UPDATE
claimed it. A worker killed mid-send leaves its claim behind; after
``UNDERSIGNED_MAIL_CLAIM_TIMEOUT`` seconds the row is queued again, so a mail may (rarely)
go out twice, but is never lost."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError
from django.utils import timezone

from undersigned.outbox.models import MAX_ATTEMPTS, OutgoingEmail

log = logging.getLogger(__name__)
Status = OutgoingEmail.Status


# Once a mail is sent (or has failed for good) nothing of it is kept but its kind and status:
# the address and the links in it are a signer's data.
SCRUBBED = {"to": "", "subject": "", "body_text": "", "body_html": ""}


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def release_stale_claims() -> int:
    return OutgoingEmail.objects.stale_claims().update(status=Status.QUEUED, claimed_by="")


def claim(batch: int = 100) -> list[OutgoingEmail]:
    ids = list(
        OutgoingEmail.objects.due()
        .order_by("retry_after", "id")
        .values_list("id", flat=True)[:batch]
    )
    if not ids:
        return []
    token = uuid.uuid4().hex
    OutgoingEmail.objects.filter(id__in=ids, status=Status.QUEUED).update(
        status=Status.SENDING, claimed_by=token, claimed_at=timezone.now()
    )
    return list(
        OutgoingEmail.objects.filter(claimed_by=token, status=Status.SENDING).order_by("id")
    )


# Mails the SMTP server accepted whose "sent" mark could not be written (the database went
# away right then), and the claims of the batches they were in. The next round records them,
# so a database restart neither sends them again nor strands the rest of their batch until
# the claim timeout.
_sent_unrecorded: set[int] = set()
_claims_to_release: set[str] = set()

CONNECT = "connect:"  # last_error prefix of a failure to reach the mail server at all


def _record_leftovers() -> None:
    if _sent_unrecorded:
        OutgoingEmail.objects.filter(pk__in=_sent_unrecorded).update(
            status=Status.SENT, sent_at=timezone.now(), last_error="", **SCRUBBED
        )
        _sent_unrecorded.clear()
    if _claims_to_release:
        OutgoingEmail.objects.filter(
            status=Status.SENDING, claimed_by__in=_claims_to_release
        ).update(status=Status.QUEUED, claimed_by="")
        _claims_to_release.clear()


def send_batch(batch: int = 100) -> int:
    """Send what is due; return how many went out."""
    _record_leftovers()
    rows = claim(batch)
    if not rows:
        return 0
    sent = 0
    try:
        connection = get_connection(fail_silently=False)
        connection.open()
    except Exception as exc:  # noqa: BLE001  any failure to reach the server is a retry
        for row in rows:
            _failed(row, exc, prefix=CONNECT)
        return 0
    # The server answers again: what waited only because it could not be reached goes now,
    # not at the end of its backoff.
    OutgoingEmail.objects.filter(
        status=Status.QUEUED, last_error__startswith=CONNECT, retry_after__gt=timezone.now()
    ).update(retry_after=timezone.now())
    try:
        for row in rows:
            message = EmailMultiAlternatives(
                row.subject, row.body_text, row.from_email, [row.to], connection=connection
            )
            if row.body_html:
                message.attach_alternative(row.body_html, "text/html")
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001
                _failed(row, exc)
                continue
            try:
                OutgoingEmail.objects.filter(pk=row.pk, claimed_by=row.claimed_by).update(
                    status=Status.SENT, sent_at=timezone.now(), last_error="", **SCRUBBED
                )
            except DatabaseError:
                _sent_unrecorded.add(row.pk)
                _claims_to_release.add(row.claimed_by)
                raise
            sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001, S110  closing a broken connection
            pass
    return sent


def _failed(row: OutgoingEmail, exc: Exception, prefix: str = "") -> None:
    attempts = row.attempts + 1
    status = Status.FAILED if attempts >= MAX_ATTEMPTS else Status.QUEUED
    log.warning("mail %s attempt %s failed: %s", row.pk, attempts, type(exc).__name__)
    OutgoingEmail.objects.filter(pk=row.pk, claimed_by=row.claimed_by).update(
        **(SCRUBBED if status == Status.FAILED else {}),
        status=status,
        attempts=attempts,
        retry_after=timezone.now() + backoff(attempts),
        claimed_by="",
        # The exception's text can quote the recipient (e.g. "recipient refused: <address>").
        last_error=f"{prefix}{type(exc).__name__} {getattr(exc, 'smtp_code', '')}".strip(),
    )
