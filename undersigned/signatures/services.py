"""Signing and confirming. HTML views, the API and the CLI all call these; the worker calls
``record_intake``.

Neither verb touches the letter row: confirming appends to the count journal, which the
counter folds into the letter in batches (see ``counting``).

What a confirmation link confirms is exactly what was sent with it. A signature's own link
confirms the details of the first submission for its address; a later submission for the
same address (by its owner, or by a stranger who knows it) waits as a ``PendingChange`` with
a link of its own, mailed to the address, and changes nothing until that link is confirmed.
The confirmation page shows what confirming will publish, so the owner can refuse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict

from django.db import IntegrityError, transaction
from django.utils import timezone

from undersigned.accounts.models import OrganizerKey
from undersigned.db import rows
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.lib.emails import canonical_email
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import new_token, token_hash
from undersigned.moderation import limits, trends
from undersigned.outbox import mail, quota
from undersigned.signatures import forge, privacy, reveal
from undersigned.signatures.counting import Change, journal
from undersigned.signatures.models import (
    Intake,
    IntakeDetails,
    PendingChange,
    Receipt,
    Signature,
    StoredFields,
    random_id,
)
from undersigned.subscriptions import services as subscriptions
from undersigned.web.caching import MISSING, forget_cached, letter_key, recent


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
    version: int | None = None  # of the text the signer was shown (the form carries it)
    updates: bool = False  # "email me updates about this letter"
    proof: forge.Proof | None = None  # a code-forge account proven by an SSH signature
    public_after: int | None = None  # `threshold`: show the name once this many have signed


def _version(letter: Letter, shown: int | None) -> int | None:
    """The version a signature is given for: the one its signer was shown, if the letter has
    published it; else the current one."""
    if shown and 1 <= shown <= letter.version:
        return shown
    return letter.version or None


def _private(data: SignatureData) -> dict[str, str]:
    private = {"name": data.name, "affiliation": data.affiliation, "comment": data.comment}
    if data.proof:  # a forge account is as private as the name
        private["forge_account"] = forge.account(data.proof.forge, data.proof.username)
        private["forge_fingerprint"] = data.proof.fingerprint
    return private


def _submitted(data: SignatureData) -> tuple[StoredFields, dict[str, str] | None]:
    """What the intake takes of what the signer typed: what is kept, and a hidden or
    threshold signer's private fields (which the worker seals, ``_seal_private``)."""
    if data.display not in Signature.WITHHELD:
        return _stored_fields(None, data), None
    empty = StoredFields(
        name="",
        affiliation="",
        comment="",
        department=data.department,
        sealed=None,
        public_after=_public_after(data),
        threshold_sealed=None,
    )
    return empty, _private(data)


def _public_after(data: SignatureData) -> int | None:
    return data.public_after if data.display == Signature.Display.THRESHOLD else None


def _seal_private(letter: Letter, details: IntakeDetails) -> IntakeDetails:
    """The intake's details with a hidden signer's private fields sealed to the keys the
    letter's organizers hold now (and dropped if none holds one); a threshold signer's also
    to the letter's threshold key for their N."""
    private = details.pop("private", None)
    if private:
        keys = _sealing_keys(letter)
        details["sealed"] = sealing.seal(private, keys) if keys else None
        n = details.get("public_after")
        if details["display"] == Signature.Display.THRESHOLD and n:
            details["threshold_sealed"] = reveal.seal(letter, n, private)
    return details


def _stored_fields(letter: Letter | None, data: SignatureData) -> StoredFields:
    """What is kept of what the signer typed, by display choice (see THREAT_MODEL.md)."""
    department = data.department
    if data.display == Signature.Display.PUBLIC:
        return StoredFields(
            name=data.name,
            affiliation=data.affiliation,
            comment=data.comment,
            department=department,
            sealed=None,
            public_after=None,
            threshold_sealed=None,
        )
    sealed = waiting = None  # `count`, or no organizer key: not stored at all
    n = _public_after(data)
    if data.display in Signature.WITHHELD and letter is not None:  # only they need keys
        keys = _sealing_keys(letter)
        sealed = sealing.seal(_private(data), keys) if keys else None
        if n:
            waiting = reveal.seal(letter, n, _private(data))
    return StoredFields(
        name="",
        affiliation="",
        comment="",
        department=department,
        sealed=sealed,
        public_after=n,
        threshold_sealed=waiting,
    )


def _sealing_keys(letter: Letter) -> list[str]:
    """The public keys of the letter's organizers, from this process's copy for a second or
    two (a query per hidden signature halved their signing rate in a surge). Adding or
    removing a key drops the copy (its event does), and other processes' copies expire."""
    cached = letter_key("sealing-keys", letter.slug, letter.pk)
    keys = recent.get(cached)
    if keys is MISSING:
        keys = list(OrganizerKey.objects.for_letter(letter).values_list("public_key", flat=True))
        recent.set(cached, keys, 2)
    return keys


def sign(letter: Letter, data: SignatureData, ip: str = "", honeypot: bool = False) -> None:
    """Take a signature: check that the letter takes it, decide whether the abuse checks hold
    it, seal what must be sealed, and write it to the intake, one row in one statement. The
    worker records it and mails the link (``record_intake``) a moment later.

    Every address takes exactly these steps, so neither the answer nor its timing can tell a
    new address from one that signed before.
    """
    _check_open(letter)
    _check_public_after(letter, data)
    canonical = canonical_email(data.email)
    verified_domain = letter.verified_domain(canonical.rpartition("@")[2])
    if letter.members_only and not verified_domain:
        raise SigningError(
            f"Only people at {letter.organization or 'the organization'} can sign: use your "
            f"address at {' or '.join(letter.domain_list)}."
        )
    if data.proof:
        check_forge_allowed(letter)
        verified_domain = forge.FORGES[data.proof.forge][1]
    ip_hash, ip_day = privacy.ip_hash(ip)
    if honeypot:
        flag = limits.HONEYPOT
    else:
        address = data.email.lower()
        flag = limits.flag_for_signing(
            letter.pk, address, canonical, ip, ip_hash, verified=bool(verified_domain)
        )
    stored, private = _submitted(data)
    details: IntakeDetails = {
        **stored,
        "display": data.display,
        "verified_domain": verified_domain,
        "ip_hash": ip_hash,
        "ip_day": ip_day.isoformat() if ip_hash else None,
        "email_domain": privacy.stored_domain(
            canonical.rpartition("@")[2], verified=bool(verified_domain)
        ),
        "flag": flag,
    }
    version = _version(letter, data.version)
    if version:
        details["version"] = version
    if data.updates:
        details["updates"] = True
    if private:
        details["private"] = private
    if data.proof:
        details.update(_forge_details(letter, data))
    rows.insert(
        Intake, {"letter_id": letter.pk, "email": data.email, "details": json.dumps(details)}
    )


def check_forge_allowed(letter: Letter) -> None:
    """Code-forge accounts verify signers of letters that name no organization domains: on
    a letter that does, "verified" means "works at example.com" and must stay so."""
    if letter.domain_list:
        raise SigningError(
            f"This letter verifies its signers by their address at "
            f"{' or '.join(letter.domain_list)}, not by a code-forge account: sign with "
            "your email address."
        )


class ForgeDetails(TypedDict):
    forge: str
    forge_hash: str
    forge_username: str
    forge_fingerprint: str
    forge_checked_at: str


def _forge_details(letter: Letter, data: SignatureData) -> ForgeDetails:
    """What is kept of a forge proof: the account's name and key fingerprint only for a
    public signer (a hidden one's are sealed with the name, in ``_submitted``)."""
    proof = data.proof
    assert proof is not None
    public = data.display == Signature.Display.PUBLIC
    return ForgeDetails(
        forge=proof.forge,
        forge_hash=forge.account_hash(letter, proof.forge, proof.username),
        forge_username=proof.username if public else "",
        forge_fingerprint=proof.fingerprint if public else "",
        forge_checked_at=this_hour().isoformat(),
    )


def sign_with_forge(letter: Letter, data: SignatureData, ip: str = "", honeypot=False) -> str:
    """Take the signature of a proven code-forge account without an address (the proof is
    the confirmation): one intake row, as ``sign_as_member`` writes. Returns the signer's
    private link (the receipt), to show them once."""
    _check_open(letter)
    if letter.members_only:
        raise SigningError("This letter is for members of its organization only.")
    check_forge_allowed(letter)
    assert data.proof is not None
    ip_hash, ip_day = privacy.ip_hash(ip)
    receipt = new_token()
    stored, private = _submitted(data)
    details: IntakeDetails = {
        **stored,
        "display": data.display,
        "verified_domain": forge.FORGES[data.proof.forge][1],
        "ip_hash": ip_hash,
        "ip_day": ip_day.isoformat() if ip_hash else None,
        "email_domain": "",
        "flag": limits.HONEYPOT if honeypot else "",
        "receipt_hash": token_hash(receipt).hex(),
        **_forge_details(letter, data),
    }
    details["email_hash"] = details["forge_hash"]
    version = _version(letter, data.version)
    if version:
        details["version"] = version
    if private:
        details["private"] = private
    rows.insert(Intake, {"letter_id": letter.pk, "email": "", "details": json.dumps(details)})
    return receipt


def _check_public_after(letter: Letter, data: SignatureData) -> None:
    """`threshold` needs an N that the letter offers (the forms check it first)."""
    if data.display == Signature.Display.THRESHOLD and (
        data.public_after not in letter.public_after_options()
    ):
        raise SigningError("Choose after how many signatures your name is shown.")


def _check_open(letter: Letter) -> None:
    if not letter.accepts_signatures:
        raise LetterNotOpen("This letter is closed and no longer takes signatures.")
    paused = letter_services.pause_message(letter)
    if paused:
        raise SigningPaused(paused)


def record_intake(limit: int = 500) -> int:
    """The worker's half of signing: turn up to ``limit`` intake rows into signatures (or
    pending changes), receipts and mails, and delete them, in one transaction (so a worker
    killed halfway leaves them for the next round, and two workers never take the same row).
    Returns how many rows it took."""
    with transaction.atomic():
        batch = list(Intake.objects.select_for_update(skip_locked=True).order_by("pk")[:limit])
        if not batch:
            return 0
        letters = Letter.objects.in_bulk({row.letter_id for row in batch})
        recorded: list[tuple[int, IntakeDetails]] = [
            (row.letter_id, _seal_private(letters[row.letter_id], json.loads(row.details)))
            for row in batch
        ]
        mailable = iter(quota.allow([row.email for row in batch if row.email]))
        for row, (letter_id, details) in zip(batch, recorded, strict=True):
            if "email_hash" in details:
                _record_member(letters[letter_id], details)
            else:
                _record(letters[letter_id], row.email, details, next(mailable))
        Intake.objects.filter(pk__in=[row.pk for row in batch]).delete()
        trends.record(letters, recorded, this_hour())  # last: two workers meet on its rows
    return len(batch)


def _record(letter: Letter, email: str, details: IntakeDetails, may_mail: bool) -> None:
    """Record one submission from the intake and mail its signer (if the address's mail
    quota allows: ``quota``).

    A new address gets a signature and a confirmation link for exactly these details. An
    address whose signature is pending gets a link of its own for these details (a
    ``PendingChange``), and its earlier links keep confirming what was sent with them. An
    address that confirmed gets a "you already signed" mail; if its signature is held and
    this submission passes the checks, the mail carries a link that releases it. Every mail
    carries a new private link to manage the signature. Two submissions with one address leave
    one signature: the unique constraint decides."""
    try:
        email_hash = letter.email_hash(canonical_email(email))
    except ValueError:  # not confirmed, and the letter closed and was purged meanwhile
        return
    token = new_token()
    updates = details.get("updates", False)
    fields = {
        **_row_values(details),
        "letter_id": letter.pk,
        "email_hash": email_hash,
        "token_hash": token_hash(token).hex(),
        "token_expires_at": Signature.new_expiry(),
    }
    taken = _forge_account_signed(letter, details, email_hash)
    if taken is None:
        try:
            # Plain statements, not the ORM's: a surge records thousands a second.
            with transaction.atomic():  # a savepoint: only a forge account's one can fail
                signature_id, status, new, held = Signature.objects.record(fields)
        except IntegrityError:
            taken = _forge_account_signed(letter, details, email_hash)
            if taken is None:
                raise
    if taken is not None:  # the account signed with another address: the proof is theirs
        signature_id, status, new, held = taken, Signature.Status.CONFIRMED, False, ""
    if not may_mail:
        return  # a link nobody receives would change nothing: no change, no receipt
    receipt = new_token()
    rows.insert(Receipt, {"signature_id": signature_id, "token_hash": token_hash(receipt).hex()})
    if taken is not None:
        mail.send_already_signed(email, letter, receipt)
        return
    change = {
        "id": random_id(),
        "signature_id": signature_id,
        "token_hash": fields["token_hash"],
        "token_expires_at": fields["token_expires_at"],
        "details": json.dumps(details),
    }
    if new:
        if updates:
            subscriptions.subscribe(letter, signature_id, email)
        mail.send_confirmation(email, letter, token, receipt)
    elif status == Signature.Status.PENDING:
        rows.insert(PendingChange, change)
        if updates:  # only if this submission's own link is confirmed
            subscriptions.subscribe(letter, signature_id, email, change_id=change["id"])
        mail.send_confirmation(email, letter, token, receipt)
    elif held in limits.CLEARED_BY_SIGNING_AGAIN and not details["flag"]:
        rows.insert(PendingChange, change)
        mail.send_already_signed(email, letter, receipt, release=token)
    else:
        mail.send_already_signed(email, letter, receipt)


@dataclass(frozen=True)
class MemberProof:
    """What a members-only pass proved, as the member's session keeps it."""

    email_hash: str
    verified_domain: str
    blocked: bool


def sign_as_member(
    letter: Letter, data: SignatureData, proof: MemberProof, ip: str = "", honeypot=False
) -> str:
    """Take the signature of a member who proved their address with a pass (so no second mail
    is needed): one intake row, as ``sign`` writes. Returns the signer's private link (the
    receipt), to show them once."""
    _check_open(letter)
    _check_public_after(letter, data)
    ip_hash, ip_day = privacy.ip_hash(ip)
    receipt = new_token()
    flag = limits.HONEYPOT if honeypot else (limits.BLOCKED if proof.blocked else "")
    stored, private = _submitted(data)
    details: IntakeDetails = {
        **stored,
        "display": data.display,
        "verified_domain": proof.verified_domain,
        "ip_hash": ip_hash,
        "ip_day": ip_day.isoformat() if ip_hash else None,
        "email_domain": proof.verified_domain,
        "flag": flag,
        "email_hash": proof.email_hash,
        "receipt_hash": token_hash(receipt).hex(),
    }
    version = _version(letter, data.version)
    if version:
        details["version"] = version
    if private:
        details["private"] = private
    rows.insert(Intake, {"letter_id": letter.pk, "email": "", "details": json.dumps(details)})
    return receipt


def _row_values(details: IntakeDetails) -> dict:
    """The intake's details as a signature's column values."""
    values: dict = {name: value for name, value in details.items() if name != "updates"}
    values["ip_day"] = date.fromisoformat(details["ip_day"]) if details["ip_day"] else None
    checked = details.get("forge_checked_at")
    values["forge_checked_at"] = datetime.fromisoformat(checked) if checked else None
    return values


def _forge_account_signed(letter: Letter, details: IntakeDetails, email_hash: str):
    """The id of the letter's other signature by the forge account these details prove, if
    there is one (one signature per account, as per address)."""
    if not details.get("forge_hash"):
        return None
    return (
        Signature.objects.filter(letter=letter, forge_hash=details["forge_hash"])
        .exclude(email_hash=email_hash)
        .values_list("pk", flat=True)
        .first()
    )


def _record_member(letter: Letter, details: IntakeDetails) -> None:
    """Record a signature proven without a mail, confirmed: a member's (their pass proved
    the address) or a code-forge account's (its SSH signature proved it), with the private
    link they were shown. If the address (or account) signed before, the existing signature
    is confirmed with these details if it was pending, and left as it is if it was not; the
    link manages it."""
    fields = {
        **_adopted(details),
        "letter_id": letter.pk,
        "email_hash": details["email_hash"],
        "status": Signature.Status.CONFIRMED,
        "confirmed_at": this_hour(),
    }
    taken = _forge_account_signed(letter, details, details["email_hash"])
    if taken is None:
        try:
            with transaction.atomic():  # a savepoint: the account may sign with an address
                signature_id, status, new, _ = Signature.objects.record(fields)
        except IntegrityError:
            taken = _forge_account_signed(letter, details, details["email_hash"])
            if taken is None:
                raise
    if taken is not None:
        rows.insert(Receipt, {"signature_id": taken, "token_hash": details["receipt_hash"]})
        return
    if new:  # the confirm trigger fires on updates only
        signature = Signature(**{k: v for k, v in fields.items() if k != "letter_id"})
        standing = (1, 0) if not signature.flag else (0, 1)
        journal(letter.pk, [Change.of(signature, *standing)])
    elif status == Signature.Status.PENDING:
        adopted = {k: v for k, v in fields.items() if k in Signature.DETAILS}
        pending = Signature.objects.filter(pk=signature_id, status=Signature.Status.PENDING)
        pending.update(**adopted, status=Signature.Status.CONFIRMED, confirmed_at=this_hour())
        PendingChange.objects.filter(signature_id=signature_id).delete()
    rows.insert(Receipt, {"signature_id": signature_id, "token_hash": details["receipt_hash"]})


@dataclass(frozen=True)
class Submission:
    """What a confirmation link is for, as its confirmation page shows it."""

    letter: Letter
    display: str
    name: str
    affiliation: str
    comment: str
    department: str
    verified_domain: str
    verification: str  # how it was verified, as shown (``Signature.verification``)
    confirmed: bool  # the signature is confirmed already
    held: str  # why the confirmed signature is held, or ""
    releases: bool  # confirming releases a held signature (and changes nothing else)
    public_after: int | None = None  # `threshold`: the name is shown once this many signed


def submission_for_token(token: str) -> Submission:
    """What the confirmation link ``token`` confirms (or confirmed). Raises a
    ``SigningError`` with a message for the person when it cannot. Changes nothing."""
    hashed = token_hash(token).hex()
    signature = Signature.objects.select_related("letter").filter(token_hash=hashed).first()
    if signature is not None:
        if not signature.is_confirmed:
            _check_confirmable(signature.letter, signature.token_expired())
        return _submission(signature, signature, releases=False)
    change = (
        PendingChange.objects.select_related("signature__letter").filter(token_hash=hashed).first()
    )
    if change is None:
        raise InvalidToken(
            "This confirmation link is not valid. It may have been mistyped, or it belonged "
            "to a signature that was withdrawn."
        )
    signature = change.signature
    details = Signature(**_adopted(json.loads(change.details)))
    if signature.is_confirmed:
        releases = signature.is_held and not details.flag
        if change.token_expires_at <= timezone.now() and releases:
            raise ExpiredToken("This link has expired. Sign the letter again to get a new one.")
        return _submission(signature, signature, releases=releases)
    _check_confirmable(signature.letter, change.token_expires_at <= timezone.now())
    return _submission(details, signature, releases=False, letter=signature.letter)


def _check_confirmable(letter: Letter, expired: bool) -> None:
    if expired:
        raise ExpiredToken(
            "This confirmation link has expired. Sign the letter again to get a new one."
        )
    if not letter.accepts_signatures:
        raise LetterNotOpen("This letter closed before your signature was confirmed.")


def _submission(shown: Signature, signature: Signature, releases: bool, letter=None):
    letter = letter or signature.letter
    named = {k: getattr(shown, k) for k in ("name", "affiliation", "comment")}
    if shown.display == Signature.Display.THRESHOLD:
        # What will be published at N, so that the owner of the address can refuse it.
        named = {**named, **(reveal.opened(letter, shown) or {})}
    return Submission(
        letter=letter,
        display=shown.display,
        name=named["name"],
        affiliation=named["affiliation"],
        comment=named["comment"],
        department=shown.department,
        verified_domain=shown.verified_domain,
        verification=shown.verification,
        confirmed=signature.is_confirmed,
        held=signature.flag if signature.is_held else "",
        releases=releases,
        public_after=shown.public_after,
    )


def _adopted(details: IntakeDetails) -> dict:
    """A pending change's details as the signature's fields."""
    fields: dict = {name: details.get(name) for name in Signature.DETAILS}
    fields["ip_day"] = date.fromisoformat(details["ip_day"]) if details["ip_day"] else None
    for name in ("forge", "forge_username", "forge_fingerprint"):
        fields[name] = fields[name] or ""
    checked = details.get("forge_checked_at")
    fields["forge_checked_at"] = datetime.fromisoformat(checked) if checked else None
    return fields


@dataclass(frozen=True)
class Confirmed:
    letter_id: int
    held: str  # why the abuse checks hold it (not counted until released), or ""


def confirm(token: str) -> Confirmed:
    """Confirm what the link ``token`` was sent with. Confirming twice is harmless: the
    second time (a double click, a second tab) finds it confirmed and changes nothing.

    The usual case, a signature's own link, is one UPDATE (the count journal's row comes from
    a trigger in the same statement), written as plain SQL because a surge confirms thousands
    a second. Then the confirmation counts towards the limit per email domain, which holds it
    if its letter had too many from that domain in the last minutes (``limits``). Only when
    the UPDATE changes nothing does the slower lookup find a pending change, or why not."""
    hashed = token_hash(token).hex()
    row = Signature.objects.confirm_pending(hashed)
    if row is None:
        return _confirm_change(token, hashed)
    signature_id, letter_id, flag, verified_domain, email_domain = row[:5]
    if not flag and not verified_domain and limits.over_domain_limit(letter_id, email_domain):
        flag = _hold(signature_id, limits.RATE_DOMAIN)
    return Confirmed(letter_id, flag)


def _hold(signature_id: int, reason: str) -> str:
    """Hold a signature that was counted a moment ago; returns the reason it is held for."""
    with transaction.atomic():
        signature = Signature.objects.select_for_update().filter(pk=signature_id).first()
        if signature is None or not signature.is_counted:  # withdrawn or moved meanwhile
            return signature.flag if signature else ""
        Signature.objects.filter(pk=signature_id).update(flag=reason)
        journal(
            signature.letter_id,
            [Change.of(signature, counted=-1), Change.of(signature, held=+1, flag=reason)],
        )
    return reason


def _confirm_change(token: str, hashed: str) -> Confirmed:
    submission = submission_for_token(token)  # raises with the reason, if there is one
    with transaction.atomic():
        change = (
            PendingChange.objects.select_for_update()
            .select_related("signature")
            .filter(token_hash=hashed, token_expires_at__gt=timezone.now())
            .first()
        )
        if change is None:  # the signature's own link, confirmed already (or just expired)
            if not submission.confirmed:
                raise InvalidToken("This confirmation link can no longer be used: sign again.")
            return Confirmed(submission.letter.pk, submission.held)
        signature = change.signature
        changed = True
        if not signature.is_confirmed:
            fields = _adopted(json.loads(change.details))
            pending = Signature.objects.filter(pk=signature.pk, status=Signature.Status.PENDING)
            pending.update(**fields, status=Signature.Status.CONFIRMED, confirmed_at=this_hour())
            subscriptions.confirmed(signature.pk, change.pk)
            PendingChange.objects.filter(signature=signature).delete()
        elif submission.releases:
            Signature.objects.filter(pk=signature.pk).update(flag="")
            journal(
                signature.letter_id,
                [Change.of(signature, held=-1), Change.of(signature, counted=+1, flag="")],
            )
            change.delete()
        else:
            changed = False
        signature.refresh_from_db()
    if changed and signature.is_counted and not signature.verified_domain:
        if limits.over_domain_limit(signature.letter_id, signature.email_domain):
            _hold(signature.pk, limits.RATE_DOMAIN)
            signature.refresh_from_db()
    return Confirmed(signature.letter_id, signature.flag if signature.is_held else "")


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
    """Delete the signature behind ``receipt`` (its row, hash, ciphertext, receipts and
    pending changes); the count drops at the next batch. Returns whether there was one."""
    signature = signature_for_receipt(receipt)
    if signature is None:
        return False
    with transaction.atomic():
        deleted, _ = Signature.objects.filter(pk=signature.pk).delete()
        if deleted and signature.is_counted:
            journal(signature.letter_id, [Change.of(signature, counted=-1)])
        elif deleted and signature.is_held:
            journal(signature.letter_id, [Change.of(signature, held=-1)])
    forget_cached(signature.letter.slug)
    return bool(deleted)


def change_display(
    receipt: str,
    display: str,
    name: str = "",
    affiliation: str = "",
    comment: str = "",
    public_after: int | None = None,
) -> bool:
    """Switch how the signature behind ``receipt`` is shown. Going public needs the name typed
    again (a hidden name is sealed to the organizers: the server cannot read it), unless it
    waits for its threshold (the server can open that); going hidden seals what was public
    (or waiting); going count-only drops it; waiting for a threshold seals what was public or
    waiting, or what is typed again."""
    signature = signature_for_receipt(receipt)
    if signature is None:
        return False
    if display != Signature.Display.THRESHOLD:
        public_after = None
    elif not public_after:
        raise SigningError("Choose after how many signatures your name is shown.")
    elif not signature.letter.key_salt:
        raise SigningError("This letter's data was purged: a name can no longer wait for it.")
    typed = {"name": name, "affiliation": affiliation, "comment": comment}
    if signature.display == Signature.Display.THRESHOLD:
        kept = reveal.opened(signature.letter, signature) or typed
    else:
        kept = {k: getattr(signature, k) for k in ("name", "affiliation", "comment")}
    same = display == signature.display and public_after == signature.public_after
    if same and display != Signature.Display.PUBLIC:
        return True
    if display == Signature.Display.PUBLIC or (display == Signature.Display.THRESHOLD and name):
        shown = typed
    else:
        shown = kept
    if display == Signature.Display.THRESHOLD and not shown["name"].strip():
        raise SigningError(
            "Type the name to show once enough have signed: a hidden name is encrypted for "
            "the organizers, and this server cannot read it."
        )
    proof = _known_account(signature, kept)
    data = SignatureData(
        name=shown["name"],
        email="",
        affiliation=shown["affiliation"],
        comment=shown["comment"],
        department=signature.department,
        display=display,
        public_after=public_after,
        proof=proof,
    )
    public = display == Signature.Display.PUBLIC
    with transaction.atomic():
        Signature.objects.filter(pk=signature.pk).update(
            display=display,
            **_stored_fields(signature.letter, data),
            # A forge account goes where the name goes: in plain sight only when public.
            forge_username=proof.username if proof and public else "",
            forge_fingerprint=proof.fingerprint if proof and public else "",
        )
        withheld = Signature.WITHHELD
        if signature.is_counted and (signature.display in withheld) != (display in withheld):
            # The tally of departments among hidden signers moves.
            after = Signature(
                display=display,
                department=signature.department,
                verified_domain=signature.verified_domain,
                version=signature.version,
            )
            journal(
                signature.letter_id,
                [Change.of(signature, counted=-1), Change.of(after, counted=+1)],
            )
    forget_cached(signature.letter.slug)
    return True


def _known_account(signature: Signature, opened: dict) -> forge.Proof | None:
    """The forge account the signature was proven with, where the server can still read it:
    a public signer's columns, or a threshold signer's box; a hidden signer's is sealed to
    the organizers and stays unknown here."""
    if not signature.forge:
        return None
    if signature.display == Signature.Display.PUBLIC and signature.forge_username:
        return forge.Proof(signature.forge, signature.forge_username, signature.forge_fingerprint)
    username = opened.get("forge_account", "").rpartition("/")[2]
    if signature.display == Signature.Display.THRESHOLD and username:
        return forge.Proof(signature.forge, username, opened.get("forge_fingerprint", ""))
    return None


def reaffirm(receipt: str) -> bool:
    """Move the signature behind ``receipt`` to the letter's current version, at its
    signer's request (one click on their private page, no mail). Returns whether it moved."""
    signature = signature_for_receipt(receipt)
    if signature is None or not signature.is_confirmed:
        return False
    current = signature.letter.version
    with transaction.atomic():
        moved = Signature.objects.filter(pk=signature.pk, version__lt=current) | (
            Signature.objects.filter(pk=signature.pk, version__isnull=True)
        )
        if not moved.update(version=current):
            return False
        if signature.is_counted:
            journal(
                signature.letter_id,
                [
                    Change.of(signature, counted=-1),
                    Change.of(signature, counted=+1, version=current),
                ],
            )
    forget_cached(signature.letter.slug)
    return True
