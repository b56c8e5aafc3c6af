from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TypedDict

from django.conf import settings
from django.db import models
from django.utils import timezone

from undersigned.letters.models import Letter


def random_order_key() -> int:
    """Public lists are ordered by this random key, so order reveals nothing about time."""
    return secrets.randbits(62)


class SignatureQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(status=Signature.Status.CONFIRMED)

    def pending(self):
        return self.filter(status=Signature.Status.PENDING)

    def public(self):
        return self.confirmed().filter(display=Signature.Display.PUBLIC)

    def expired(self, now=None):
        return self.pending().filter(token_expires_at__lte=now or timezone.now())


class PublicSignatureDict(TypedDict):
    name: str
    affiliation: str
    department: str
    comment: str


class Signature(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for email confirmation"
        CONFIRMED = "confirmed", "Confirmed"

    class Display(models.TextChoices):
        PUBLIC = "public", "Show my name and affiliation"
        HIDDEN = "hidden", "Hide my name: show only that a signer from my organization signed"
        COUNT = "count", "Only count me"

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="signatures")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    display = models.CharField(max_length=16, choices=Display.choices, default=Display.PUBLIC)

    name = models.CharField(max_length=200)
    affiliation = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=100, blank=True)
    comment = models.CharField(max_length=1000, blank=True)

    # The address is needed only to send the confirmation; the hash (keyed per letter with a
    # secret outside the database) is what de-duplicates.
    email = models.EmailField(max_length=254, blank=True)
    email_hash = models.CharField(max_length=64)

    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)

    order_key = models.BigIntegerField(default=random_order_key)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    objects = SignatureQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "email_hash"], name="one_signature_per_email_per_letter"
            )
        ]
        indexes = [
            models.Index(
                fields=["letter", "status", "display", "order_key"], name="signature_public_list"
            ),
            models.Index(fields=["status", "token_expires_at"], name="signature_expiry"),
        ]

    def __str__(self) -> str:
        return f"signature {self.pk} on {self.letter_id} ({self.status})"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED

    def token_expired(self, now=None) -> bool:
        return self.token_expires_at is None or self.token_expires_at <= (now or timezone.now())

    @staticmethod
    def new_expiry():
        return timezone.now() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS)

    def to_public_dict(self) -> PublicSignatureDict:
        return {
            "name": self.name,
            "affiliation": self.affiliation,
            "department": self.department,
            "comment": self.comment,
        }


class CountDelta(models.Model):
    """A journal of count changes that the counter folds into the letter row in batches.

    Confirming a signature inserts a row here instead of updating the letter, so that a surge
    of confirmations never queues on one hot row."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+")
    signatures = models.IntegerField(default=0)
    verified = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.signatures:+d} on letter {self.letter_id}"


PAGE_SIZE = 50


def public_page(letter: Letter, after: int | None = None, limit: int = PAGE_SIZE):
    """One page of a letter's public signatories in random-key order, cursor-paginated (an
    index range scan however deep the page, unlike OFFSET). Returns (signatures, next cursor)."""
    queryset = Signature.objects.public().filter(letter=letter)
    if after is not None:
        queryset = queryset.filter(order_key__gt=after)
    rows = list(
        queryset.order_by("order_key").only(
            "name", "affiliation", "department", "comment", "order_key"
        )[: limit + 1]
    )
    next_cursor = rows[limit - 1].order_key if len(rows) > limit else None
    return rows[:limit], next_cursor


def parse_cursor(value: str | None) -> int | None:
    """A cursor from a query string, or None; raises ValueError for anything else."""
    if value in (None, ""):
        return None
    cursor = int(value)
    if not 0 <= cursor < 2**62:
        raise ValueError(value)
    return cursor
