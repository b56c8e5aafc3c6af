"""Conditional pledges: "I will <action> if <N> people commit by <date>", and the
commitments people make to them.

A commitment is private until its pledge is met: only the count is public. Its address is
kept (encrypted at rest) until the pledge's mails no longer need it; see THREAT_MODEL.md,
"Pledges"."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from typing import TypedDict

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from undersigned.db.fields import VaultedTextField
from undersigned.letters.models import Letter
from undersigned.letters.models.letter import PUBLIC_AFTER_CHOICES
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import derive_key, keyed_hash
from undersigned.signatures.models import random_id, random_order_key


def new_key_salt() -> str:
    return secrets.token_hex(16)


class PledgeDict(TypedDict):
    slug: str
    action: str
    threshold: int
    deadline: str
    status: str
    commitment_count: int
    verified_count: int
    met_at: str | None
    failed_at: str | None
    verified_only: bool
    letter: str | None
    url: str


class PledgeQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published_at__isnull=False)


class Pledge(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MET = "met", "Met"
        FAILED = "failed", "Failed"

    slug = models.SlugField(max_length=80, unique=True)
    action = models.CharField(max_length=300, help_text="What each committer will do.")
    threshold = models.PositiveIntegerField(help_text="How many must commit (N).")
    deadline = models.DateField(help_text="Commitments close at the end of this day (UTC).")
    # Attached to a letter (its page, timeline and feed tell of it; hidden names are sealed to
    # its organizers), or on its own (sealed to ``organizers``).
    letter = models.ForeignKey(
        Letter, null=True, blank=True, on_delete=models.CASCADE, related_name="pledges"
    )
    organizers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="pledges"
    )
    # Who may commit: anyone with a confirmed address, or only people verified at one of the
    # domains (the letter's and ``domains``) or by a code-forge account.
    verified_only = models.BooleanField(default=False)
    domains = models.CharField(max_length=1000, blank=True)

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Kept by the worker (``deciding``), under the counter's lock; dated to the hour.
    commitment_count = models.PositiveIntegerField(default=0)
    verified_count = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    # The organizers' one announcement after success (``services.announce``).
    announcement_subject = models.CharField(max_length=200, blank=True)
    announcement = models.TextField(blank=True)
    announced_at = models.DateTimeField(null=True, blank=True)

    # Salt of the keyed hash of committers' addresses (per pledge, with the instance secret).
    key_salt = models.CharField(max_length=32, default=new_key_salt)

    objects = PledgeQuerySet.as_manager()

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("pledges:detail", args=[self.slug])

    @property
    def closes_at(self) -> datetime:
        """Commitments are confirmed until the end of the deadline's day, in UTC."""
        return datetime.combine(self.deadline + timedelta(days=1), time(0), tzinfo=UTC)

    def deadline_passed(self, now=None) -> bool:
        return (now or timezone.now()) >= self.closes_at

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def accepts_commitments(self) -> bool:
        return (
            self.is_published and self.status != self.Status.FAILED and not self.deadline_passed()
        )

    @property
    def is_decided(self) -> bool:
        return self.status != self.Status.OPEN

    @property
    def domain_list(self) -> list[str]:
        own = [d for d in self.domains.replace(",", " ").split() if d]
        return own + [d for d in (self.letter.domain_list if self.letter else []) if d not in own]

    def verified_domain(self, email_domain: str) -> str:
        """The domain among ``domain_list`` that ``email_domain`` (canonical, ASCII) proves."""
        subdomains = bool(self.letter and self.letter.include_subdomains)
        for domain in self.domain_list:
            if email_domain == domain or (subdomains and email_domain.endswith("." + domain)):
                return domain
        return ""

    def _hash(self, purpose: str, value: str) -> str:
        key = derive_key(settings.SECRET_KEY, purpose, bytes.fromhex(self.key_salt))
        return keyed_hash(key, value).hex()

    def email_hash(self, canonical: str) -> str:
        return self._hash("pledge-email-hash", canonical)

    def forge_hash(self, forge: str, username: str) -> str:
        return self._hash("pledge-forge-hash", f"{forge}:{username.lower()}")

    def public_after_options(self) -> list[int]:
        """The Ns a `threshold` committer may choose: the short list, the attached letter's
        own choices, and the pledge's threshold (the natural one)."""
        letter = self.letter.public_after_options() if self.letter else []
        return sorted({*PUBLIC_AFTER_CHOICES, *letter, self.threshold})

    @property
    def progress_percent(self) -> int:
        return min(100, self.commitment_count * 100 // max(self.threshold, 1))

    @property
    def remaining(self) -> int:
        return max(0, self.threshold - self.commitment_count)

    def to_dict(self) -> PledgeDict:
        def iso(moment):
            return moment.isoformat() if moment else None

        return {
            "slug": self.slug,
            "action": self.action,
            "threshold": self.threshold,
            "deadline": self.deadline.isoformat(),
            "status": self.status,
            "commitment_count": self.commitment_count,
            "verified_count": self.verified_count,
            "met_at": iso(self.met_at),
            "failed_at": iso(self.failed_at),
            "verified_only": self.verified_only,
            "letter": self.letter.slug if self.letter else None,
            "url": settings.BASE_URL + self.get_absolute_url(),
        }


class CommitmentQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(status=Commitment.Status.CONFIRMED)

    def pending(self):
        return self.filter(status=Commitment.Status.PENDING)

    def verified(self):
        return self.exclude(verified_domain="", forge="")


class Commitment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for email confirmation"
        CONFIRMED = "confirmed", "Confirmed"

    class Display(models.TextChoices):
        PUBLIC = "public", "Once the pledge is met, show my name and affiliation"
        HIDDEN = "hidden", "Hide my name: show only that someone (verified, if so) committed"
        COUNT = "count", "Only count me: do not list me at all"
        THRESHOLD = (
            "threshold",
            "Hide my name until enough people have committed, then show it",
        )

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="commitments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    display = models.CharField(max_length=16, choices=Display.choices, default=Display.PUBLIC)

    # Kept only for `public` committers, encrypted at rest; a `hidden` committer's name,
    # affiliation, department and comment live only in `sealed` (to the organizers' keys, or
    # not at all); a `count` committer's not at all. A `threshold` committer's live in
    # `sealed` and in `threshold_sealed` (to the pledge's threshold key for `public_after`,
    # ``pledges.waiting``) until the pledge is met and its count reaches `public_after`; then
    # they are kept as a public committer's and both boxes go (`public_after` stays).
    name = VaultedTextField(max_length=200, blank=True)
    affiliation = VaultedTextField(max_length=200, blank=True)
    department = VaultedTextField(max_length=100, blank=True)
    comment = VaultedTextField(max_length=1000, blank=True)
    sealed = models.JSONField(null=True, blank=True)
    public_after = models.PositiveIntegerField(null=True, blank=True)
    threshold_sealed = models.JSONField(null=True, blank=True)

    # The address, encrypted at rest, kept only while a mail of the pledge may still go to
    # it: set to NULL once it is no longer needed (``telling.forget_addresses``); the whole
    # row goes when the pledge fails. The keyed hash stays for de-duplication.
    email = VaultedTextField(max_length=254, null=True, blank=True)
    email_hash = models.CharField(max_length=64, null=True, blank=True)
    # How the committer was verified: at one of the pledge's domains, or by a code-forge
    # account (forge name, and a keyed hash of forge and user name: one per account).
    verified_domain = models.CharField(max_length=253, blank=True)
    forge = models.CharField(max_length=20, blank=True)
    forge_hash = models.CharField(max_length=64, null=True, blank=True)

    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)

    # Per-recipient markers of the pledge's mails: each is set in the transaction that queues
    # the mail, so each mail goes once per committer however many workers run.
    told_met = models.BooleanField(default=False)
    announced = models.BooleanField(default=False)

    order_key = models.BigIntegerField(default=random_order_key)
    created_at = models.DateTimeField(default=this_hour)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    objects = CommitmentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pledge", "email_hash"], name="one_commitment_per_email_per_pledge"
            ),
            models.UniqueConstraint(
                fields=["pledge", "forge_hash"], name="one_commitment_per_forge_per_pledge"
            ),
        ]
        indexes = [
            models.Index(fields=["pledge", "status"], name="commitment_status"),
            models.Index(fields=["token_expires_at"], name="commitment_expiry"),
            # The worker's look for names due (``waiting.reveal_due``).
            models.Index(
                fields=["pledge", "public_after"],
                name="commitment_waiting",
                condition=models.Q(threshold_sealed__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"commitment {self.pk} to {self.pledge_id} ({self.status})"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED

    @property
    def is_verified(self) -> bool:
        return bool(self.verified_domain or self.forge)

    def waiting_fields(self) -> dict[str, str] | None:
        """What a waiting (`threshold`) commitment will show at its N, for its own pages."""
        from undersigned.pledges import waiting

        return waiting.opened(self)

    def token_expired(self, now=None) -> bool:
        return self.token_expires_at is None or self.token_expires_at <= (now or timezone.now())

    @staticmethod
    def new_expiry():
        return this_hour() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS + 1)


class CommitmentReceipt(models.Model):
    """A committer's private link (``/ps/<receipt>``) to see or withdraw their commitment;
    only the hash of its token is kept, one per mail."""

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="receipts")
    token_hash = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"receipt for commitment {self.commitment_id}"
