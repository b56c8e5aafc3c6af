"""The outbox worker's verbs: claim due rows, send them over one SMTP connection, record the
outcome. Several workers may run at once: a row is sent by whoever's conditional UPDATE
claimed it. A worker killed mid-send leaves its claim behind; after
``UNDERSIGNED_MAIL_CLAIM_TIMEOUT`` seconds the row is queued again, so a mail may (rarely)
go out twice, but is never lost."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from datetime import timedelta
from functools import cache

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, connection
from django.utils import timezone

from undersigned.db import rows as plain
from undersigned.lib.times import this_hour
from undersigned.outbox.models import MAX_ATTEMPTS, OutgoingEmail

log = logging.getLogger(__name__)
Status = OutgoingEmail.Status


# Once a mail is sent (or has failed for good) nothing of it is kept but its kind, status and
# hour: the address and the links in it are a signer's data, and its exact times could date
# one.
SCRUBBED = {
    "to": "",
    "subject": "",
    "body_text": "",
    "body_html": "",
    "headers": "",
    "claimed_at": None,
}


class _Mail(EmailMultiAlternatives):
    """A mail whose MIME boundary is picked here: the ``email`` package would pick one by
    compiling a regular expression for each message, a tenth of the cost of building it."""

    def message(self):
        message = super().message()
        if message.is_multipart():
            texts = [str(self.body), *(str(content) for content, _ in self.alternatives)]
            boundary = "=_" + secrets.token_hex(16)
            while any(boundary in text for text in texts):  # as good as never
                boundary = "=_" + secrets.token_hex(16)
            message.set_boundary(boundary)
        return message


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
            status=Status.SENT, sent_at=this_hour(), retry_after=this_hour(), last_error="",
            **SCRUBBED,
        )  # fmt: skip
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
        smtp = get_connection(fail_silently=False)
        smtp.open()
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
            headers = json.loads(row.headers) if row.headers else None
            message = _Mail(
                row.subject,
                row.body_text,
                row.from_email,
                [row.to],
                connection=smtp,
                headers=headers,
            )
            if row.body_html:
                message.attach_alternative(row.body_html, "text/html")
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001
                _failed(row, exc)
                continue
            try:
                _mark_sent(row)
            except DatabaseError:
                _sent_unrecorded.add(row.pk)
                _claims_to_release.add(row.claimed_by)
                raise
            sent += 1
    finally:
        try:
            smtp.close()
        except Exception:  # noqa: BLE001, S110  closing a broken connection
            pass
    return sent


# Each mail is marked sent, and scrubbed, as soon as the server has accepted it, before the
# next one goes: a worker killed mid-batch can then repeat only the mail it was sending. One
# UPDATE per batch would repeat the whole batch. The statement is written once, not built
# through the ORM per mail, which costs several times more than running it.
@cache
def _mark_sent_sql() -> str:
    assigned = ", ".join(
        f"{plain.column(OutgoingEmail, name)} = %s"
        for name in ("status", "sent_at", "retry_after", "last_error", *SCRUBBED)
    )
    return (
        f"UPDATE {plain.table(OutgoingEmail)} SET {assigned} "  # noqa: S608  (names from the model)
        f"WHERE {plain.column(OutgoingEmail, 'id')} = %s"
        f" AND {plain.column(OutgoingEmail, 'claimed_by')} = %s"
    )


def _mark_sent(row: OutgoingEmail) -> None:
    hour = connection.ops.adapt_datetimefield_value(this_hour())
    params = [Status.SENT.value, hour, hour, "", *SCRUBBED.values(), row.pk, row.claimed_by]
    with connection.cursor() as cursor:
        cursor.execute(_mark_sent_sql(), params)


def _failed(row: OutgoingEmail, exc: Exception, prefix: str = "") -> None:
    attempts = row.attempts + 1
    status = Status.FAILED if attempts >= MAX_ATTEMPTS else Status.QUEUED
    log.warning("mail %s attempt %s failed: %s", row.pk, attempts, type(exc).__name__)
    failed = status == Status.FAILED
    OutgoingEmail.objects.filter(pk=row.pk, claimed_by=row.claimed_by).update(
        **(SCRUBBED if failed else {}),
        status=status,
        attempts=attempts,
        retry_after=this_hour() if failed else timezone.now() + backoff(attempts),
        claimed_by="",
        claimed_at=None,
        # The exception's text can quote the recipient (e.g. "recipient refused: <address>").
        last_error=f"{prefix}{type(exc).__name__} {getattr(exc, 'smtp_code', '')}".strip(),
    )
