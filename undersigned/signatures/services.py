"""Signing and confirming. HTML views, the API and the CLI all call these.

Neither verb touches the letter row: confirming appends to the count journal, which the
counter folds into the letter in batches (see ``counting``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from undersigned.letters.models import Letter
from undersigned.lib.emails import canonical_email
from undersigned.lib.tokens import new_token, token_hash
from undersigned.outbox import mail
from undersigned.signatures.models import CountDelta, Signature


class SigningError(Exception):
    """A precondition failed; ``str(error)`` is a message for the person."""

    status = 400


class LetterNotOpen(SigningError):
    status = 409


class InvalidToken(SigningError):
    status = 404


class ExpiredToken(SigningError):
    status = 410


@dataclass(frozen=True)
class SignatureData:
    name: str
    email: str
    affiliation: str = ""
    department: str = ""
    comment: str = ""
    display: str = Signature.Display.PUBLIC


def sign(letter: Letter, data: SignatureData) -> None:
    """Record a pending signature and mail a confirmation link.

    The caller sees the same outcome whatever the email's history: a new address gets a
    confirmation link; an address with a pending signature gets a fresh link (the latest
    details replace the earlier ones); an address that already confirmed gets a "you already
    signed" mail. Two requests with one address at once still leave one signature: the
    database's unique constraint decides, and the loser takes the "already there" path.
    """
    if not letter.accepts_signatures:
        raise LetterNotOpen("This letter is closed and no longer takes signatures.")
    email_hash = letter.email_hash(canonical_email(data.email))
    token = new_token()
    fields = {
        "name": data.name,
        "affiliation": data.affiliation,
        "department": data.department,
        "comment": data.comment,
        "display": data.display,
        "email": data.email,
        "token_hash": token_hash(token).hex(),
        "token_expires_at": Signature.new_expiry(),
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                Signature.objects.create(letter=letter, email_hash=email_hash, **fields)
        except IntegrityError:
            existing = Signature.objects.get(letter=letter, email_hash=email_hash)
            if existing.is_confirmed:
                mail.send_already_signed(data.email, letter)
                return
            Signature.objects.filter(pk=existing.pk, status=Signature.Status.PENDING).update(
                **fields
            )
        mail.send_confirmation(data.email, letter, token)


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
    (a double click, a second tab) finds it confirmed and changes nothing."""
    signature = signature_for_token(token)
    if signature.is_confirmed:
        return signature
    with transaction.atomic():
        changed = Signature.objects.filter(
            pk=signature.pk, status=Signature.Status.PENDING, token_hash=signature.token_hash
        ).update(status=Signature.Status.CONFIRMED, confirmed_at=timezone.now())
        if changed:
            CountDelta.objects.create(letter_id=signature.letter_id, signatures=1)
    signature.refresh_from_db()
    if not signature.is_confirmed:  # a newer link replaced this one meanwhile
        raise InvalidToken("This confirmation link was replaced by a newer one: use that.")
    return signature
