from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from undersigned.db.fields import VaultedTextField
from undersigned.lib.times import this_hour

MAX_ATTEMPTS = 30  # with backoff capped at an hour: about a day of trying


class OutgoingEmailQuerySet(models.QuerySet):
    def due(self, now=None):
        return self.filter(
            status=OutgoingEmail.Status.QUEUED, retry_after__lte=now or timezone.now()
        )

    def stale_claims(self, now=None):
        """Rows a worker claimed and never finished (it was killed): safe to send again."""
        return self.filter(
            status=OutgoingEmail.Status.SENDING,
            claimed_at__lte=(now or timezone.now())
            - timedelta(seconds=settings.MAIL_CLAIM_TIMEOUT_SECONDS),
        )


class OutgoingEmail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed for good"

    kind = models.CharField(max_length=40)
    # Encrypted at rest (``lib.vault``): an address, and private links, until the mail is sent
    # and they are scrubbed.
    to = VaultedTextField(max_length=254)
    from_email = models.CharField(max_length=300)
    subject = VaultedTextField(max_length=300)
    body_text = VaultedTextField()
    body_html = VaultedTextField(blank=True)
    headers = VaultedTextField(blank=True)  # JSON: extra headers (e.g. List-Unsubscribe)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    # Times to the hour, as for everything about a signer, except while a mail waits to be
    # sent again (the backoff) or is being sent (the claim); both go once it is sent.
    retry_after = models.DateTimeField(default=this_hour)
    claimed_by = models.CharField(max_length=40, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=this_hour)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OutgoingEmailQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "retry_after"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"


class MailQuota(models.Model):
    """How many mails one address was sent in one hour (UTC), so that nobody can make the
    instance flood an inbox (``quota.allow``). The address is a keyed hash under a key derived
    from the instance secret and the hour; the rows go after the hour (``purge``)."""

    recipient = models.CharField(max_length=64)
    hour = models.DateTimeField()
    mails = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "hour"], name="one_quota_per_hour")
        ]

    def __str__(self) -> str:
        return f"{self.mails} mails at {self.hour:%Y-%m-%d %H}h"
