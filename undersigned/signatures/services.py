"""Signing and confirming. HTML views, the API and the CLI all call these; the worker calls
``record_intake``.

Neither verb touches the letter row: confirming appends to the count journal, which the
counter folds into the letter in batches (see ``counting``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from undersigned.accounts.models import OrganizerKey
from undersigned.db import rows
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.lib.emails import canonical_email
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import new_token, token_hash
from undersigned.moderation import limits, trends
from undersigned.outbox import mail
from undersigned.signatures import privacy
from undersigned.signatures.models import (
    CountDelta,
    Intake,
    IntakeDetails,
    Receipt,
    Signature,
    StoredFields,
)
from undersigned.web.caching import forget_cached


class SigningError(Exception):
    """A precondition failed; ``str(error)`` is a message for the person."""

    status = 400


class LetterNotOpen(SigningError):
    status = 409


class InvalidToken(SigningError):
    status = 404


class ExpiredToken(SigningError):
    status = 410


class SigningPaused(LetterNotOpen):
    """A kill switch is on (for the letter or the instance)."""


@dataclass(frozen=True)
class SignatureData:
    name: str
    email: str
    affiliation: str = ""
    department: str = ""
    comment: str = ""
    display: str = Signature.Display.PUBLIC


def _stored_fields(letter: Letter, data: SignatureData) -> StoredFields:
    """What is kept of what the signer typed, by display choice (see THREAT_MODEL.md)."""
    department = data.department
    if data.display == Signature.Display.PUBLIC:
        return StoredFields(
            name=data.name,
            affiliation=data.affiliation,
            comment=data.comment,
            department=department,
            sealed=None,
        )
    sealed = None  # `count`, or no organizer key: not stored at all
    if data.display == Signature.Display.HIDDEN:  # only these need the keys (a query)
        keys = [key.public_key for key in OrganizerKey.objects.for_letter(letter)]
        private = {"name": data.name, "affiliation": data.affiliation, "comment": data.comment}
        sealed = sealing.seal(private, keys) if keys else None
    return StoredFields(name="", affiliation="", comment="", department=department, sealed=sealed)


def sign(letter: Letter, data: SignatureData, ip: str = "", honeypot: bool = False) -> None:
    """Take a signature: check that the letter takes it, decide the abuse flag, seal what
    must be sealed, and write it to the intake, one row in one statement. The worker records
    it and mails the link (``record_intake``) a moment later.

    Every address takes exactly these steps, so neither the answer nor its timing can tell a
    new address from one that signed before.
    """
    if not letter.accepts_signatures:
        raise LetterNotOpen("This letter is closed and no longer takes signatures.")
    paused = letter_services.pause_message(letter)
    if paused:
        raise SigningPaused(paused)
    canonical = canonical_email(data.email)
    verified_domain = letter.verified_domain(canonical.rpartition("@")[2])
    if letter.members_only and not verified_domain:
        raise SigningError(
            f"Only people at {letter.organization or 'the organization'} can sign: use your "
            f"address at {' or '.join(letter.domain_list)}."
        )
    ip_hash, ip_day = privacy.ip_hash(ip)
    flag = (
        limits.HONEYPOT
        if honeypot
        else limits.flag_for(letter.pk, data.email.lower(), canonical, ip, ip_hash)
    )
    details: IntakeDetails = {
        **_stored_fields(letter, data),
        "display": data.display,
        "verified_domain": verified_domain,
        "ip_hash": ip_hash,
        "ip_day": ip_day.isoformat() if ip_hash else None,
        "email_domain": canonical.rpartition("@")[2],
        "flag": flag,
    }
    rows.insert(
        Intake, {"letter_id": letter.pk, "email": data.email, "details": json.dumps(details)}
    )


def record_intake(limit: int = 500) -> int:
    """The worker's half of signing: turn up to ``limit`` intake rows into signatures,
    receipts and mails, and delete them, in one transaction (so a worker killed halfway
    leaves them for the next round, and two workers never take the same row). Returns how
    many rows it took."""
    with transaction.atomic():
        batch = list(Intake.objects.select_for_update(skip_locked=True).order_by("pk")[:limit])
        if not batch:
            return 0
        letters = Letter.objects.in_bulk({row.letter_id for row in batch})
        recorded: list[tuple[int, IntakeDetails]] = [
            (row.letter_id, json.loads(row.details)) for row in batch
        ]
        for row, (letter_id, details) in zip(batch, recorded, strict=True):
            _record(letters[letter_id], row.email, details)
        Intake.objects.filter(pk__in=[row.pk for row in batch]).delete()
        trends.record(letters, recorded, this_hour())  # last: two workers meet on its rows
    return len(batch)


def _record(letter: Letter, email: str, details: IntakeDetails) -> None:
    """Record one signature from the intake and mail its signer.

    A new address gets a confirmation link; an address with a pending signature gets a fresh
    link (the latest details replace the earlier ones); an address that already confirmed
    gets a "you already signed" mail. Every mail carries a new private link to manage the
    signature. Two signatures with one address leave one row: the unique constraint decides.
    """
    try:
        email_hash = letter.email_hash(canonical_email(email))
    except ValueError:  # the letter closed and its hashing key was destroyed meanwhile
        return
    token, receipt = new_token(), new_token()
    fields = {
        **details,
        "ip_day": date.fromisoformat(details["ip_day"]) if details["ip_day"] else None,
        "letter_id": letter.pk,
        "email_hash": email_hash,
        "token_hash": token_hash(token).hex(),
        "token_expires_at": Signature.new_expiry(),
    }
    # Plain statements, not the ORM's: a surge records thousands a second (BENCHMARKS.md).
    signature_id, status = Signature.objects.record_pending(fields)
    rows.insert(Receipt, {"signature_id": signature_id, "token_hash": token_hash(receipt).hex()})
    if status == Signature.Status.CONFIRMED:
        mail.send_already_signed(email, letter, receipt)
    else:
        mail.send_confirmation(email, letter, token, receipt)


def signature_for_token(token: str) -> Signature:
    """The signature a confirmation link is for, if the link can still confirm it (or already
    did). Raises a ``SigningError`` with a message for the person otherwise. Changes nothing."""
    signature = (
        Signature.objects.select_related("letter")
        .filter(token_hash=token_hash(token).hex())
        .first()
    )
    if signature is None:
        raise InvalidToken(
            "This confirmation link is not valid. It may have been mistyped, or replaced by a "
            "newer link: use the link in the most recent email you received."
        )
    if signature.is_confirmed:
        return signature
    if signature.token_expired():
        raise ExpiredToken(
            "This confirmation link has expired. Sign the letter again to get a new one."
        )
    if not signature.letter.accepts_signatures:
        raise LetterNotOpen("This letter closed before your signature was confirmed.")
    return signature


def confirm(token: str) -> Signature:
    """Confirm the signature behind ``token``. Confirming twice is harmless: the second time
    (a double click, a second tab) finds it confirmed and changes nothing.

    The usual case is one UPDATE (the count journal's row comes from a trigger in the same
    statement) and one indexed read, written as plain SQL because a surge confirms thousands
    a second; only when it changes nothing does the slower lookup find out why."""
    letter_id = Signature.objects.confirm_pending(token_hash(token).hex())
    if letter_id is not None:
        return Signature(letter_id=letter_id, status=Signature.Status.CONFIRMED)
    signature = signature_for_token(token)  # raises with the reason, if there is one
    if not signature.is_confirmed:  # it expired or its letter closed just now
        raise InvalidToken("This confirmation link can no longer be used: sign again.")
    return signature


# Self-service through the private link in every mail (``/s/<receipt>``). An unknown receipt
# and a withdrawn signature look the same: ``signature_for_receipt`` returns None for both.


def signature_for_receipt(receipt: str) -> Signature | None:
    row = (
        Receipt.objects.select_related("signature__letter")
        .filter(token_hash=token_hash(receipt).hex())
        .first()
    )
    return row.signature if row else None


def withdraw(receipt: str) -> bool:
    """Delete the signature behind ``receipt`` (its row, hash, ciphertext and receipts); the
    count drops at the next batch. Returns whether there was one."""
    signature = signature_for_receipt(receipt)
    if signature is None:
        return False
    with transaction.atomic():
        deleted, _ = Signature.objects.filter(pk=signature.pk).delete()
        if deleted and signature.is_counted:
            CountDelta.objects.create(
                letter_id=signature.letter_id, signatures=-1, verified=-int(signature.is_verified)
            )
    forget_cached(signature.letter.slug)
    return bool(deleted)


def change_display(
    receipt: str, display: str, name: str = "", affiliation: str = "", comment: str = ""
) -> bool:
    """Switch how the signature behind ``receipt`` is shown. Going public needs the name typed
    again (a hidden name is sealed to the organizers: the server cannot read it); going hidden
    seals what was public; going count-only drops it."""
    signature = signature_for_receipt(receipt)
    if signature is None:
        return False
    if display == Signature.Display.PUBLIC:
        shown = {"name": name, "affiliation": affiliation, "comment": comment}
    elif display == signature.display:
        return True
    else:
        shown = {k: getattr(signature, k) for k in ("name", "affiliation", "comment")}
    data = SignatureData(email="", department=signature.department, display=display, **shown)
    Signature.objects.filter(pk=signature.pk).update(
        display=display, **_stored_fields(signature.letter, data)
    )
    forget_cached(signature.letter.slug)
    return True
