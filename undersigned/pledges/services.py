"""Pledge verbs: create, publish, commit, confirm, withdraw, announce. Pages, the API and
the ``pledge`` command call these and only translate their errors. Deciding a pledge is the
worker's (``deciding``), and so is telling its committers (``telling``).

Committing takes the same steps whatever the address's history (one upsert, one receipt,
one mail), and answers the same: nobody learns from it whether an address committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from undersigned import events
from undersigned.accounts.models import OrganizerKey
from undersigned.db import rows
from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.lib.emails import canonical_email
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import new_token, token_hash
from undersigned.outbox import mail, quota
from undersigned.pledges import waiting
from undersigned.pledges.models import Commitment, CommitmentReceipt, Pledge
from undersigned.signatures.services import SignatureData, SigningError

MAX_THRESHOLD = 10_000_000


class PledgeError(SigningError):
    """A precondition of committing failed; ``str(error)`` is a message for the person (as
    for signing, whose pages and flows it shares: ``letters.views.forge_flow``)."""


class PledgeClosed(PledgeError):
    status = 409


class InvalidToken(PledgeError):
    status = 404


class ExpiredToken(PledgeError):
    status = 410


# --- organizers' verbs ---------------------------------------------------------------------


@dataclass(frozen=True)
class PledgeSpec:
    slug: str
    action: str
    threshold: int
    deadline: date
    letter: Letter | None = None
    verified_only: bool = False
    domains: tuple[str, ...] = ()


def create(
    spec: PledgeSpec, organizers=(), *, publish: bool = False, via: str, actor=None
) -> Pledge:
    """Create a pledge (a draft unless ``publish``). Raises ``PledgeError``."""
    if spec.letter is not None and spec.letter.mail_is_discreet:
        raise PledgeError(
            "A pledge cannot be attached to a letter with discreet mail (or members only): "
            "its mails would name the pledge at the committers' work addresses."
        )
    with transaction.atomic():
        if Pledge.objects.filter(slug=spec.slug).exists():
            raise PledgeError(f"There is a pledge at {spec.slug!r} already: choose another slug.")
        try:
            with transaction.atomic():
                pledge = Pledge.objects.create(
                    slug=spec.slug,
                    action=spec.action,
                    threshold=spec.threshold,
                    deadline=spec.deadline,
                    letter=spec.letter,
                    verified_only=spec.verified_only,
                    domains=" ".join(spec.domains),
                )
        except IntegrityError:  # the same slug, created a moment ago by someone else
            raise PledgeError(f"There is a pledge at {spec.slug!r} already.") from None
        pledge.organizers.set(list(organizers))
        if publish:
            _publish(pledge, via, actor)
    return pledge


def publish(pledge: Pledge, *, via: str, actor=None) -> None:
    if pledge.is_published:
        raise PledgeError("This pledge is published already.")
    with transaction.atomic():
        _publish(pledge, via, actor)


def _publish(pledge: Pledge, via: str, actor=None) -> None:
    if pledge.deadline_passed():
        raise PledgeError("Its deadline has passed: give it a later one before publishing.")
    pledge.published_at = timezone.now()
    Pledge.objects.filter(pk=pledge.pk).update(published_at=pledge.published_at)
    if pledge.letter is not None:
        events.record(
            "pledge.published", letter=pledge.letter, actor=actor, via=via, **_about(pledge)
        )


def _about(pledge: Pledge) -> dict:
    return {"pledge": pledge.slug, "action": pledge.action, "threshold": pledge.threshold}


def announce(pledge: Pledge, subject: str, body: str, *, via: str, actor=None) -> None:
    """The organizers' one mail after success, to every committer (and to those who commit
    later, when they confirm) while their addresses are kept: ``ANNOUNCE_DAYS`` after the
    pledge was met. The worker sends it (``telling``)."""
    if pledge.status != Pledge.Status.MET:
        raise PledgeError("Only a met pledge can be announced to its committers.")
    if pledge.announced_at is not None:
        raise PledgeError("This pledge's announcement was sent already: there is only one.")
    if pledge.met_at and pledge.met_at + announce_window() <= timezone.now():
        raise PledgeError(
            f"The committers' addresses were deleted {settings.PLEDGE_ANNOUNCE_DAYS} days after "
            "the pledge was met: there is nobody left to mail."
        )
    with transaction.atomic():
        sent = Pledge.objects.filter(
            pk=pledge.pk, status=Pledge.Status.MET, announced_at__isnull=True
        ).update(announcement_subject=subject, announcement=body, announced_at=timezone.now())
        if not sent:
            raise PledgeError("This pledge's announcement was sent already: there is only one.")
        if pledge.letter is not None:
            events.record(
                "pledge.announced", letter=pledge.letter, actor=actor, via=via, pledge=pledge.slug
            )
    pledge.refresh_from_db()


def announce_window() -> timedelta:
    return timedelta(days=settings.PLEDGE_ANNOUNCE_DAYS)


# --- committing ----------------------------------------------------------------------------


def check_open(pledge: Pledge) -> None:
    if not pledge.accepts_commitments:
        if pledge.status == Pledge.Status.FAILED:
            raise PledgeClosed("This pledge failed and no longer takes commitments.")
        raise PledgeClosed("This pledge's deadline has passed: it no longer takes commitments.")


def sealing_keys(pledge: Pledge) -> list[str]:
    """Hidden committers' fields are sealed to these: the attached letter's organizers', or
    else the pledge's own organizers' (active accounts only)."""
    if pledge.letter is not None:
        keys = OrganizerKey.objects.for_letter(pledge.letter)
    else:
        keys = OrganizerKey.objects.filter(user__in=pledge.organizers.all(), user__is_active=True)
    return list(keys.values_list("public_key", flat=True))


def _shown(pledge: Pledge, data: SignatureData) -> dict:
    """What is kept of what the committer typed, by display choice (THREAT_MODEL.md): a
    public committer's fields (encrypted at rest); a hidden one's sealed to the organizers; a
    threshold one's also to the pledge's threshold key for their N (``waiting``)."""
    private = {
        "name": data.name,
        "affiliation": data.affiliation,
        "department": data.department,
        "comment": data.comment,
    }
    if data.display == Commitment.Display.PUBLIC:
        return {**private, "sealed": None, "public_after": None, "threshold_sealed": None}
    sealed = waiting_box = None
    n = data.public_after if data.display == Commitment.Display.THRESHOLD else None
    if data.display in (Commitment.Display.HIDDEN, Commitment.Display.THRESHOLD):
        keys = sealing_keys(pledge)
        sealed = sealing.seal(private, keys) if keys else None
    if n:
        waiting_box = waiting.seal(pledge, n, private)
    return {
        "name": "",
        "affiliation": "",
        "department": "",
        "comment": "",
        "sealed": sealed,
        "public_after": n,
        "threshold_sealed": waiting_box,
    }


def check_public_after(pledge: Pledge, data: SignatureData) -> None:
    """`threshold` needs an N that the pledge offers (the forms check it first)."""
    if data.display == Commitment.Display.THRESHOLD and (
        data.public_after not in pledge.public_after_options()
    ):
        raise PledgeError(
            "Choose after how many commitments your name is shown: one of "
            f"{', '.join(f'{n:,}' for n in pledge.public_after_options())}."
        )


# Replaced by a later submission for the same address while the commitment waits for its
# confirmation (the newest link confirms the newest details; the page shows them first);
# never once it is confirmed.
REPLACED = (
    "display",
    "name",
    "affiliation",
    "department",
    "comment",
    "sealed",
    "public_after",
    "threshold_sealed",
    "email",
    "verified_domain",
    "token_hash",
    "token_expires_at",
)


@cache
def _upsert_tail() -> str:
    table = rows.table(Commitment)
    status = rows.column(Commitment, "status")
    columns = [rows.column(Commitment, name) for name in REPLACED]
    sets = ", ".join(
        f"{c} = CASE WHEN {table}.{status} = 'pending' THEN excluded.{c} ELSE {table}.{c} END"
        for c in columns
    )
    key = f"{rows.column(Commitment, 'pledge_id')}, {rows.column(Commitment, 'email_hash')}"
    returned = f"{rows.column(Commitment, 'id')}, {status}"
    return f" ON CONFLICT ({key}) DO UPDATE SET {sets} RETURNING {returned}"


def commit(pledge: Pledge, data: SignatureData) -> None:
    """Take a commitment by email: one statement records it (or finds the address's), then
    a private link and one mail: a confirmation link for a new or waiting commitment, "you
    committed already" for a confirmed one. Over the address's mail cap nothing is done
    (``quota``). Raises ``PledgeError`` for what the pledge refuses, whoever asks."""
    check_open(pledge)
    check_public_after(pledge, data)
    canonical = canonical_email(data.email)
    verified_domain = pledge.verified_domain(canonical.rpartition("@")[2])
    if pledge.verified_only and not verified_domain:
        if not pledge.domain_list:
            raise PledgeError(
                "Only verified people can commit to this pledge: commit as your GitHub, "
                "GitLab or Codeberg account, proven with your SSH key."
            )
        raise PledgeError(
            "Only verified people can commit to this pledge: use your address at "
            f"{' or '.join(pledge.domain_list)}."
        )
    token, receipt = new_token(), new_token()
    values = {
        **_shown(pledge, data),
        "pledge_id": pledge.pk,
        "display": data.display,
        "email": data.email,
        "email_hash": pledge.email_hash(canonical),
        "verified_domain": verified_domain,
        "token_hash": token_hash(token).hex(),
        "token_expires_at": Commitment.new_expiry(),
    }
    with transaction.atomic():
        if not quota.allow([data.email])[0]:
            return
        commitment_id, status = rows.insert(Commitment, values, _upsert_tail())  # type: ignore[misc]
        rows.insert(
            CommitmentReceipt,
            {"commitment_id": commitment_id, "token_hash": token_hash(receipt).hex()},
        )
        if status == Commitment.Status.PENDING:
            mail.send_pledge_confirmation(data.email, pledge, token, receipt)
        else:
            mail.send_pledge_already(data.email, pledge, receipt)


@dataclass(frozen=True)
class ForgeProof:
    """What a forge check proved (filled in by the forge verification, which checks the SSH
    signature before it calls ``commit_verified``)."""

    forge: str  # "github", "gitlab", "codeberg"
    username: str


def check_forge_allowed(pledge: Pledge) -> None:
    """Code-forge accounts verify committers to pledges that name no domains (their own or
    their letter's), as for letters: where there are domains, "verified" means an address
    at one of them."""
    if pledge.domain_list:
        raise PledgeError(
            f"This pledge verifies its committers by their address at "
            f"{' or '.join(pledge.domain_list)}, not by a code-forge account: commit with "
            "your email address."
        )


def forge_scope(pledge: Pledge) -> tuple[str, str]:
    """What a forge challenge for ``pledge`` is for, and how the challenge says it."""
    return f"pledge:{pledge.pk}", f"pledge {pledge.slug}"


def commit_verified(pledge: Pledge, data: SignatureData, proof: ForgeProof) -> str:
    """Take a commitment whose committer proved a code-forge account: confirmed at once, no
    address, one per account (a keyed hash of forge and user name). Returns the private link
    to show once. If the account committed before, its commitment is left as it is and a new
    private link to it is returned (whoever holds the account's key may manage it)."""
    check_open(pledge)
    check_forge_allowed(pledge)
    check_public_after(pledge, data)
    forge_hash = pledge.forge_hash(proof.forge, proof.username)
    receipt = new_token()
    with transaction.atomic():
        commitment = Commitment.objects.filter(pledge=pledge, forge_hash=forge_hash).first()
        if commitment is None:
            try:
                with transaction.atomic():
                    commitment = Commitment.objects.create(
                        pledge=pledge,
                        **_shown(pledge, data),
                        display=data.display,
                        forge=proof.forge,
                        forge_hash=forge_hash,
                        status=Commitment.Status.CONFIRMED,
                        confirmed_at=this_hour(),
                    )
            except IntegrityError:  # the same account at the same moment
                commitment = Commitment.objects.get(pledge=pledge, forge_hash=forge_hash)
        CommitmentReceipt.objects.create(
            commitment=commitment, token_hash=token_hash(receipt).hex()
        )
    return receipt


def commitment_for_token(token: str) -> Commitment:
    """The commitment that the confirmation link ``token`` confirms (or confirmed); raises
    ``PledgeError`` with a message for the person when it cannot. Changes nothing."""
    commitment = (
        Commitment.objects.select_related("pledge")
        .filter(token_hash=token_hash(token).hex())
        .first()
    )
    if commitment is None:
        raise InvalidToken(
            "This confirmation link is not valid. It may have been mistyped, replaced by a "
            "newer one, or belonged to a commitment that was withdrawn."
        )
    if not commitment.is_confirmed:
        if commitment.token_expired():
            raise ExpiredToken("This link has expired. Commit again to get a new one.")
        if not commitment.pledge.accepts_commitments:
            raise PledgeClosed("This pledge closed before your commitment was confirmed.")
    return commitment


def confirm(token: str) -> Commitment:
    """Confirm the commitment behind ``token``; confirming twice changes nothing. The count
    moves at the worker's next round, which also decides the pledge (``deciding``)."""
    commitment = commitment_for_token(token)
    if not commitment.is_confirmed:
        Commitment.objects.filter(
            pk=commitment.pk,
            status=Commitment.Status.PENDING,
            token_expires_at__gt=timezone.now(),
        ).update(status=Commitment.Status.CONFIRMED, confirmed_at=this_hour())
        commitment.refresh_from_db()
    return commitment


def commitment_for_receipt(receipt: str) -> Commitment | None:
    """The commitment behind a private link, or None (unknown and withdrawn look alike)."""
    row = (
        CommitmentReceipt.objects.select_related("commitment__pledge")
        .filter(token_hash=token_hash(receipt).hex())
        .first()
    )
    return row.commitment if row else None


def withdraw(receipt: str) -> bool:
    """Delete the commitment behind ``receipt`` (its row, hash, address, sealed name and
    links) while its pledge is undecided; the count drops at the worker's next round.
    Returns whether there was one; raises ``PledgeError`` once the pledge is decided."""
    commitment = commitment_for_receipt(receipt)
    if commitment is None:
        return False
    with transaction.atomic():
        pledge = Pledge.objects.select_for_update().get(pk=commitment.pledge_id)
        if pledge.is_decided:
            raise PledgeClosed(
                "This pledge was decided: its commitments can no longer be withdrawn."
            )
        deleted, _ = Commitment.objects.filter(pk=commitment.pk).delete()
    return bool(deleted)


def change_display(
    receipt: str,
    display: str,
    name: str = "",
    affiliation: str = "",
    comment: str = "",
    public_after: int | None = None,
) -> bool:
    """Switch how the commitment behind ``receipt`` is shown, at any time (hiding one's name
    after the pledge is met included). Going public needs the name typed again (a hidden name
    is sealed: the server cannot read it); going hidden seals what was public (or waiting);
    count-only drops it; waiting for a threshold seals what was public or waiting, or what is
    typed again. Returns whether there was a commitment; raises ``PledgeError``."""
    commitment = commitment_for_receipt(receipt)
    if commitment is None:
        return False
    if display != Commitment.Display.THRESHOLD:
        public_after = None
    elif public_after not in commitment.pledge.public_after_options():
        raise PledgeError("Choose after how many commitments your name is shown.")
    same = display == commitment.display and public_after == commitment.public_after
    if same and display != Commitment.Display.PUBLIC:
        return True
    typed = {"name": name, "affiliation": affiliation, "comment": comment, "department": ""}
    if commitment.display == Commitment.Display.THRESHOLD:
        kept = waiting.opened(commitment) or typed
    else:
        kept = {k: getattr(commitment, k) for k in waiting.FIELDS}
    if display == Commitment.Display.PUBLIC or (display == Commitment.Display.THRESHOLD and name):
        shown = {**typed, "department": kept.get("department", "")}
    else:
        shown = kept
    if display == Commitment.Display.THRESHOLD and not shown["name"].strip():
        raise PledgeError(
            "Type the name to show once enough have committed: a hidden name is encrypted for "
            "the organizers, and this server cannot read it."
        )
    data = SignatureData(
        name=shown["name"],
        email="",
        affiliation=shown["affiliation"],
        department=shown.get("department", ""),
        comment=shown["comment"],
        display=display,
        public_after=public_after,
    )
    Commitment.objects.filter(pk=commitment.pk).update(
        display=display, **_shown(commitment.pledge, data)
    )
    return True
