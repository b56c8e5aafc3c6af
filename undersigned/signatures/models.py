from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache
from typing import NotRequired, TypedDict, cast

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from undersigned.db import rows
from undersigned.db.fields import VaultedTextField
from undersigned.letters.models import Letter
from undersigned.letters.models.letter import PUBLIC_AFTER_CHOICES
from undersigned.lib.times import this_hour


def random_order_key() -> int:
    """Public lists are ordered by this random key, so order reveals nothing about time."""
    return secrets.randbits(62)


def random_id() -> int:
    """A primary key that says nothing about when its row was made: sequential ids gave the
    order of signatures and receipts, which matched the order of the signers' mails."""
    return secrets.randbits(62) + 1


class SignatureQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(status=Signature.Status.CONFIRMED)

    def pending(self):
        return self.filter(status=Signature.Status.PENDING)

    def counted(self):
        """What the count is (``COUNTED``)."""
        return self.filter(**COUNTED)

    def held(self):
        """Confirmed, not invalidated, but held by an abuse check until someone releases it
        (``HELD``)."""
        return self.filter(**HELD).exclude(flag="")

    def listed(self):
        """Counted signatures that appear in the public list: named or name withheld."""
        return self.counted().filter(display__in=Signature.LISTED)

    def expired(self, now=None):
        return self.pending().filter(token_expires_at__lte=now or timezone.now())

    def record(self, values: dict) -> tuple[int, str, bool, str]:
        """Insert a signature, unless the letter has one with this email hash already, which
        is left as it is. One statement either way; the unique constraint settles two at once.
        Returns the row's (id, status, whether this inserted it, flag)."""
        values = {**values, "order_key": values.get("order_key") or random_order_key()}
        pk, status, order_key, flag = cast(
            tuple[int, str, int, str], rows.insert(Signature, values, _record_tail())
        )
        return pk, status, order_key == values["order_key"], flag

    def confirm_pending(self, token_hash: str) -> tuple | None:
        """Confirm the pending signature with ``token_hash`` if its link has not expired and
        its letter still takes signatures, in one statement; a trigger (migration 0008)
        appends the count journal's row in the same statement. Returns the signature's (id,
        letter id, flag, verified domain, email domain), or None when nothing changed."""
        now = timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        params = [adapt(this_hour()), token_hash, adapt(now), adapt(now)]
        with connection.cursor() as cursor:
            cursor.execute(CONFIRM, params)
            return cursor.fetchone()


# Confirming, in one statement (see ``confirm_pending``).
CONFIRM = """
UPDATE signatures_signature SET status = 'confirmed', confirmed_at = %s
WHERE token_hash = %s AND status = 'pending' AND token_expires_at > %s
  AND letter_id IN (
    SELECT id FROM letters_letter WHERE status = 'open' AND (deadline IS NULL OR deadline > %s)
  )
RETURNING id, letter_id, flag, verified_domain, email_domain
"""


@cache
def _record_tail() -> str:
    # A no-op update, so that the existing row comes back (DO NOTHING returns no row).
    status = rows.column(Signature, "status")
    key = f"{rows.column(Signature, 'letter_id')}, {rows.column(Signature, 'email_hash')}"
    returned = ", ".join(
        rows.column(Signature, name) for name in ("id", "status", "order_key", "flag")
    )
    return (
        f" ON CONFLICT ({key}) DO UPDATE SET {status} = {rows.table(Signature)}.{status}"
        f" RETURNING {returned}"
    )


class PublicSignatureDict(TypedDict):
    name: str | None
    affiliation: str | None
    department: str | None
    comment: str | None
    verified_domain: str | None
    forge: str | None
    verification: str | None


class Signature(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for email confirmation"
        CONFIRMED = "confirmed", "Confirmed"

    class Display(models.TextChoices):
        PUBLIC = "public", "Show my name and affiliation"
        HIDDEN = "hidden", "Hide my name: show only that a signer (verified, if so) signed"
        COUNT = "count", "Only count me: do not list me at all"
        THRESHOLD = "threshold", "Hide my name until enough people have signed, then show it"

    LISTED = (Display.PUBLIC, Display.HIDDEN, Display.THRESHOLD)
    # Listed as "name withheld" (a `threshold` signer until the count reaches their N).
    WITHHELD = (Display.HIDDEN, Display.THRESHOLD)
    # The Ns a `threshold` signer may choose (``public_after``), besides the organizers' own.
    PUBLIC_AFTER_CHOICES = PUBLIC_AFTER_CHOICES
    # What a submission carries (``IntakeDetails``): a pending change that its signer
    # confirms gives the signature these.
    DETAILS = (
        "version",
        "display",
        "name",
        "affiliation",
        "comment",
        "department",
        "sealed",
        "public_after",
        "threshold_sealed",
        "verified_domain",
        "ip_hash",
        "ip_day",
        "email_domain",
        "flag",
        "forge",
        "forge_hash",
        "forge_username",
        "forge_fingerprint",
        "forge_checked_at",
    )

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    # No index of its own: the unique constraint and `signature_order` both start with it.
    letter = models.ForeignKey(
        Letter, on_delete=models.CASCADE, related_name="signatures", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    display = models.CharField(max_length=16, choices=Display.choices, default=Display.PUBLIC)

    # Kept only for `public` signers, and then encrypted at rest (``lib.vault``, a key from
    # the instance secret): so a public signer who later hides their name leaves no readable
    # copy in a dead row version or a WAL segment. `hidden` signers' name, affiliation and
    # comment live only in `sealed`, encrypted to the organizers' keys; `count` signers' not
    # at all.
    name = VaultedTextField(max_length=200, blank=True)
    affiliation = VaultedTextField(max_length=200, blank=True)
    comment = VaultedTextField(max_length=1000, blank=True)
    department = models.CharField(max_length=100, blank=True)
    sealed = models.JSONField(null=True, blank=True)
    # A `threshold` signer's N: their name is shown once the letter's count (its verified
    # count, if the letter verifies) reaches it. Kept after the name appears (``display``
    # becomes `public`), so that their private page can say why it did.
    public_after = models.PositiveIntegerField(null=True, blank=True)
    # Until then, their name, affiliation and comment sealed to the letter's threshold key for
    # N (``lib.thresholds``: derived from the instance secret, never stored), besides
    # ``sealed`` to the organizers' keys; the counter opens it at N (``reveal``) and drops it.
    threshold_sealed = models.JSONField(null=True, blank=True)

    # No email address is stored: this keyed hash (per letter, with a secret outside the
    # database) is all that de-duplication needs.
    email_hash = models.CharField(max_length=64)
    verified_domain = models.CharField(max_length=253, blank=True)

    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)

    # A code-forge account proven by an SSH signature (``signatures.forge``): which forge (its
    # host is then ``verified_domain``), a keyed hash of the account (one signature per
    # account per letter) and the hour of the check. The user name and the fingerprint of
    # the key that signed are kept, encrypted at rest, for public signers only; a hidden
    # signer's are in ``sealed``; a count-only signer's are not kept.
    forge = models.CharField(max_length=16, blank=True)
    forge_hash = models.CharField(max_length=64, null=True, blank=True)
    forge_username = VaultedTextField(max_length=100, blank=True)
    forge_fingerprint = VaultedTextField(max_length=100, blank=True)
    forge_checked_at = models.DateTimeField(null=True, blank=True)

    # A keyed hash of the client address under that day's key, for abuse tools; cleared by
    # `purge` after UNDERSIGNED_IP_HASH_DAYS together with the day's key.
    ip_hash = models.CharField(max_length=64, blank=True)
    ip_day = models.DateField(null=True, blank=True)
    # The email's domain, for the trending report; cleared with the IP hash.
    email_domain = models.CharField(max_length=253, blank=True)

    # Why the abuse checks hold it (``moderation.limits.REASONS``), or "": a held signature is
    # not counted until an organizer or operator releases it, and says so on its private page.
    flag = models.CharField(max_length=20, blank=True)
    invalidation = models.ForeignKey(
        "moderation.Invalidation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signatures",
    )

    # The number of the letter's version (``letters.Version``) that its signer was shown and
    # signed; never moved but by its signer re-affirming the current one.
    version = models.PositiveIntegerField(null=True, blank=True)

    order_key = models.BigIntegerField(default=random_order_key)
    created_at = models.DateTimeField(default=this_hour)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    objects = SignatureQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "email_hash"], name="one_signature_per_email_per_letter"
            ),
            models.UniqueConstraint(
                fields=["letter", "forge_hash"],
                name="one_signature_per_forge_account_per_letter",
                condition=models.Q(forge_hash__isnull=False),
            ),
        ]
        indexes = [
            # Public lists walk this in order and skip rows that are not listed. A plain index,
            # not a partial one: SQLite cannot match a partial index's condition against bound
            # parameters, and so sorted every row of the letter for each page.
            models.Index(fields=["letter", "order_key"], name="signature_order"),
            # Without `status`, and neither does any other index hold it or `confirmed_at`:
            # so confirming changes no indexed column, and PostgreSQL updates the row in place
            # on its page (a HOT update, given the room that migration 0007 leaves on each
            # page) instead of adding an entry to each of the table's indexes. Only rows whose
            # link may still expire are in it: `purge` clears the time of confirmed ones.
            models.Index(
                fields=["token_expires_at"],
                name="signature_expiry",
                condition=models.Q(token_expires_at__isnull=False),
            ),
            models.Index(fields=["ip_day"], name="signature_ip_day"),
            # The counter finds the names due to appear (``reveal``) among these alone.
            models.Index(
                fields=["letter", "public_after"],
                name="signature_waiting",
                condition=models.Q(threshold_sealed__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"signature {self.pk} on {self.letter_id} ({self.status})"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED

    @property
    def is_verified(self) -> bool:
        return bool(self.verified_domain)

    @property
    def is_withheld(self) -> bool:
        """Listed (if at all) as "name withheld": hidden, or waiting for its threshold."""
        return self.display in self.WITHHELD

    @property
    def verification(self) -> str:
        """How the signature was verified, as it may be shown: "works at example.com",
        "github.com/alice" for a public signer's forge account, or "verified GitHub account"
        for a hidden one's; "" if it was not."""
        from undersigned.signatures import forge

        if self.forge in forge.FORGES:
            if self.display == self.Display.PUBLIC and self.forge_username:
                return forge.account(self.forge, self.forge_username)
            return f"verified {forge.label(self.forge)} account"
        return f"works at {self.verified_domain}" if self.verified_domain else ""

    @property
    def is_held(self) -> bool:
        return bool(self.flag) and all(getattr(self, f) == v for f, v in HELD.items())

    @property
    def is_counted(self) -> bool:
        """Whether this signature is in the count (``COUNTED``)."""
        return all(getattr(self, field) == value for field, value in COUNTED.items())

    def token_expired(self, now=None) -> bool:
        return self.token_expires_at is None or self.token_expires_at <= (now or timezone.now())

    @staticmethod
    def new_expiry():
        return this_hour() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS + 1)

    department_withheld = False  # by ``public_page``, for a small group (see there)

    def to_public_dict(self) -> PublicSignatureDict:
        named = self.display == self.Display.PUBLIC
        return {
            "name": self.name if named else None,
            "affiliation": self.affiliation if named else None,
            "department": None if self.department_withheld else self.department,
            "comment": self.comment if named else None,
            "verified_domain": (self.verified_domain or None) if not self.forge else None,
            "forge": self.forge or None,
            "verification": self.verification or None,
        }


# What the count is, stated once: a signature counts when it is confirmed, not flagged by the
# abuse checks and not invalidated. ``counted()``, ``is_counted`` and ``counting.reconcile``
# follow it; the trigger that journals a confirmation (migration 0006) spells it in SQL, and
# tests/test_counting.py checks that all four agree for every reason a signature counts or
# does not.
COUNTED = {"status": Signature.Status.CONFIRMED, "flag": "", "invalidation_id": None}
# What is held: the same, but flagged (``Signature.flag`` is not "").
HELD = {"status": Signature.Status.CONFIRMED, "invalidation_id": None}


class PendingChange(models.Model):
    """A later submission for an address whose signature waits for confirmation (or is held):
    its details wait for a link of their own, sent to the address. Nothing submitted later
    changes a signature until its own link is confirmed, and then only a pending one (a held
    one is released, nothing more); the signature's own link keeps confirming exactly what was
    sent with it. So a stranger who knows an address cannot change what its owner confirms."""

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="changes")
    token_hash = models.CharField(max_length=64, unique=True)
    token_expires_at = models.DateTimeField()
    details = VaultedTextField()  # ``IntakeDetails`` as JSON, encrypted at rest

    class Meta:
        indexes = [models.Index(fields=["token_expires_at"], name="change_expiry")]

    def __str__(self) -> str:
        return f"pending change of signature {self.signature_id}"


class Receipt(models.Model):
    """A signer's private link to manage their signature (withdraw, change display). Only
    the hash of the link's token is kept; a signature may have several (one per mail)."""

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="receipts")
    token_hash = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"receipt for signature {self.signature_id}"


class DailySalt(models.Model):
    """Today's random salt for hashing client addresses. With the instance secret it makes the
    day's key; deleting the row (``purge``) makes that day's hashes impossible to recompute."""

    day = models.DateField(primary_key=True)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return str(self.day)


class CountDelta(models.Model):
    """A journal of count changes that the counter folds into the letter row and its tallies
    in batches.

    Confirming a signature inserts a row here (a trigger, migration 0008) instead of updating
    the letter, so that a surge of confirmations never queues on one hot row. A row says how
    the counted and held signatures of one group (department, hidden or not, held reason)
    changed; ``counting.journal`` writes those of other verbs."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+")
    signatures = models.IntegerField(default=0)
    verified = models.IntegerField(default=0)
    held = models.IntegerField(default=0, db_default=0)
    flag = models.CharField(max_length=20, blank=True, db_default="")  # the reason of ``held``
    department = models.CharField(max_length=100, blank=True, db_default="")
    # The signatures are listed as "name withheld".
    hidden = models.BooleanField(default=False, db_default=False)
    version = models.PositiveIntegerField(null=True, blank=True)  # of the text they signed

    def __str__(self) -> str:
        return f"{self.signatures:+d} on letter {self.letter_id}"


class Tally(models.Model):
    """Counted (or held) signatures of a letter per group, kept by the counter from the
    journal: per department, per department among hidden signers (a hidden signer's
    department is shown only where at least UNDERSIGNED_SMALLEST_GROUP of them share it),
    and held ones per reason."""

    class Dimension(models.TextChoices):
        DEPARTMENT = "department", "department"
        HIDDEN_DEPARTMENT = "hidden-department", "department of hidden signers"
        HELD = "held", "held, by reason"
        VERSION = "version", "the version of the text signed"

    # No index of its own: the unique constraint starts with it.
    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+", db_index=False)
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    key = models.CharField(max_length=100, blank=True)
    signatures = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "dimension", "key"], name="one_tally_per_group"
            )
        ]

    def __str__(self) -> str:
        return f"{self.signatures} in {self.dimension} {self.key!r} of {self.letter_id}"


class Affiliations(models.Model):
    """A letter's public signers by the affiliation they gave, as the worker last counted
    them (``signatures.affiliations``): only the groups that are shown (each of at least k,
    and "other"), as JSON, encrypted at rest like the affiliations themselves."""

    letter = models.OneToOneField(
        Letter, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    groups = VaultedTextField(blank=True, default="")

    class Meta:
        verbose_name_plural = "affiliations"

    def __str__(self) -> str:
        return f"affiliations of {self.letter_id}"


PAGE_SIZE = 50


def public_order(letter: Letter, after: int | None = None):
    """A letter's listed signatures in public (random-key) order, from cursor ``after``."""
    queryset = Signature.objects.listed().filter(letter=letter)
    if after is not None:
        queryset = queryset.filter(order_key__gt=after)
    return queryset.order_by("order_key")


def public_page(letter: Letter, after: int | None = None, limit: int = PAGE_SIZE):
    """One page of a letter's listed signatories in random-key order, cursor-paginated (an
    index range scan however deep the page, unlike OFFSET). Returns (signatures, next cursor)."""
    rows = list(
        public_order(letter, after).only(
            "name",
            "affiliation",
            "department",
            "comment",
            "display",
            "verified_domain",
            "forge",
            "forge_username",
            "order_key",
        )[: limit + 1]
    )
    next_cursor = rows[limit - 1].order_key if len(rows) > limit else None
    rows = rows[:limit]
    _withhold_small_departments(letter, rows)
    return rows, next_cursor


def _withhold_small_departments(letter: Letter, signatures: list[Signature]) -> None:
    """A hidden signer's department is shown only where at least SMALLEST_GROUP hidden signers
    share it: "name withheld, Legal" must not narrow a signer down to the two people in Legal
    who signed. Others read "another department" (``department_withheld``)."""
    withheld = Signature.WITHHELD
    asked = {s.department for s in signatures if s.display in withheld and s.department}
    if not asked:
        return
    shown = set(
        Tally.objects.filter(
            letter=letter,
            dimension=Tally.Dimension.HIDDEN_DEPARTMENT,
            key__in=asked,
            signatures__gte=settings.SMALLEST_GROUP,
        ).values_list("key", flat=True)
    )
    for signature in signatures:
        if signature.display in withheld and signature.department not in shown:
            signature.department_withheld = bool(signature.department)
            signature.department = ""


def parse_cursor(value: str | None) -> int | None:
    """A cursor from a query string, or None; raises ValueError for anything else."""
    if not value:
        return None
    cursor = int(value)
    if not 0 <= cursor < 2**62:
        raise ValueError(value)
    return cursor


class StoredFields(TypedDict):
    """What is kept of what a signer typed (``services._stored_fields``): a hidden signer's
    name, affiliation and comment only in ``sealed``; a count-only signer's not at all; a
    threshold signer's in ``sealed`` and in ``threshold_sealed`` until the count reaches
    ``public_after``."""

    name: str
    affiliation: str
    comment: str
    department: str
    sealed: dict | None
    public_after: int | None
    threshold_sealed: dict | None


class IntakeDetails(StoredFields):
    """What the signing request hands the worker in ``Intake.details`` (as JSON): what is
    kept of the signature, already in the form it is kept in, and what the abuse checks
    decided."""

    display: str
    verified_domain: str
    ip_hash: str
    ip_day: str | None  # ISO date of ``ip_hash``'s key
    email_domain: str
    flag: str
    # A proven code-forge account (``Signature.forge``); ``forge_checked_at`` in ISO form.
    forge: NotRequired[str]
    forge_hash: NotRequired[str]
    forge_username: NotRequired[str]
    forge_fingerprint: NotRequired[str]
    forge_checked_at: NotRequired[str]
    version: NotRequired[int]  # of the letter's text that the signer was shown
    updates: NotRequired[bool]  # "email me updates"
    # A member of a members-only letter who proved their address by a pass signs without a
    # second mail: the address's keyed hash and the hash of the private link shown to them.
    email_hash: NotRequired[str]
    receipt_hash: NotRequired[str]
    # A hidden (or threshold) signer's name, affiliation and comment, which the worker seals
    # to the organizers' keys (into ``sealed``), and for a threshold signer to the letter's
    # threshold key (into ``threshold_sealed``), before anything else keeps them.
    private: NotRequired[dict[str, str]]


class Intake(models.Model):
    """A signature as the signing request left it, until the worker records it.

    Signing writes only this row (one INSERT), so that a surge costs each request as little
    as possible; the worker then does the rest in batches: the signature (insert, or update
    of a pending one), a receipt, and the mail; and it seals a hidden signer's name to the
    organizers' keys. The row holds what that needs, the address and the name, for as long as
    it takes (a second or two with the worker running), encrypted at rest (``lib.vault``),
    and is deleted in the transaction that records it."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+")
    email = VaultedTextField(max_length=254)
    details = VaultedTextField()  # ``IntakeDetails`` as JSON (written and read by services)
    created_at = models.DateTimeField(default=this_hour)

    def __str__(self) -> str:
        return f"intake {self.pk} on {self.letter_id}"


class ForgeChallenge(models.Model):
    """A challenge that a signer signs with an SSH key to prove a code-forge account
    (``signatures.forge``): good for ten minutes and once. Only the hash of its nonce is kept
    (the nonce carries a MAC of what it is for: ``forge._nonce``), so the row names nobody and
    cannot be tested against an account, secret or not; it is deleted when used, and by
    ``purge`` when it expires."""

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    nonce_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"forge challenge {self.pk}"
