"""Operators' verbs: bulk invalidation (with a dry run, a public reason and undo), the
instance-wide kill switch and the abuse policy. The admin and the commands call these; each
records its event. The trending report is in ``trends``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from undersigned import events
from undersigned.letters.models import Letter
from undersigned.moderation import limits
from undersigned.moderation.models import Invalidation, Policy
from undersigned.signatures import privacy
from undersigned.signatures.counting import Change, journal
from undersigned.signatures.models import Signature


@dataclass(frozen=True)
class Criteria:
    """Which of a letter's signatures to invalidate: counted ones by email domain and/or
    client-address hash (IP hashes exist only for the last UNDERSIGNED_IP_HASH_DAYS days, so
    matching by them works only then), or held ones by the reason they are held for. The time
    window (on the hour the signature arrived) is optional."""

    domain: str = ""
    ip_hash: str = ""
    since: datetime | None = None
    until: datetime | None = None
    held: str = ""  # a reason (``limits.REASONS``): the held signatures, not the counted

    def __post_init__(self):
        if not (self.domain or self.ip_hash or self.held):
            raise ValueError("Give an email domain or an IP hash to match.")
        if self.held and self.held not in limits.REASONS:
            raise ValueError(f"{self.held!r} is no reason to hold a signature.")

    def query(self) -> Q:
        q = Q()
        if self.domain:
            domain = self.domain.lower()
            hashed = privacy.stored_domain(domain, verified=False)
            q &= Q(email_domain__in={domain, hashed}) | Q(verified_domain=domain)
        if self.ip_hash:
            q &= Q(ip_hash=self.ip_hash)
        if self.held:
            q &= Q(flag=self.held)
        if self.since:
            q &= Q(created_at__gte=self.since)
        if self.until:
            q &= Q(created_at__lt=self.until)
        return q

    def candidates(self):
        return Signature.objects.held() if self.held else Signature.objects.counted()

    def as_json(self) -> dict:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in asdict(self).items()
            if v
        }


def matching(letter: Letter, criteria: Criteria):
    return criteria.candidates().filter(criteria.query(), letter=letter)


def dry_run(letter: Letter, criteria: Criteria) -> int:
    return matching(letter, criteria).count()


_CHUNK = 500  # signatures per UPDATE when invalidating or releasing
_STANDING = ("id", "verified_domain", "flag", "department", "display")


def _changes(rows, counted: int = 0, held: int = 0) -> list[Change]:
    return [
        Change(
            counted if not flag else 0,
            held if flag else 0,
            bool(verified_domain),
            flag,
            department,
            display in Signature.WITHHELD,
        )
        for _, verified_domain, flag, department, display in rows
    ]


def invalidate(
    letter: Letter, criteria: Criteria, reason: str, *, actor=None, via: str
) -> Invalidation:
    """Take the signatures that match out of the count (or out of the held ones), with
    ``reason`` shown publicly.

    The matching rows are found first, by a read: in a surge a letter has a million rows to
    look through (seconds on SQLite), and a write transaction that long would hold every
    other writer, signing included, until it commits. The write then marks the rows that
    still match, by primary key."""
    found = list(matching(letter, criteria).values_list("id", flat=True))
    with transaction.atomic():
        invalidation = Invalidation.objects.create(
            letter=letter, reason=reason, criteria=criteria.as_json(), created_by=actor
        )
        changes: list[Change] = []
        for start in range(0, len(found), _CHUNK):
            # Locked, and still matching: a withdrawal or another invalidation may have come
            # in between.
            rows = list(
                criteria.candidates()
                .filter(pk__in=found[start : start + _CHUNK])
                .select_for_update()
                .values_list(*_STANDING)
            )
            Signature.objects.filter(pk__in=[row[0] for row in rows]).update(
                invalidation=invalidation
            )
            changes += _changes(rows, counted=-1, held=-1)
        invalidation.count = len(changes)
        invalidation.save(update_fields=["count"])
        journal(letter.pk, changes)
        events.record(
            "signatures.invalidated",
            letter=letter,
            actor=actor,
            via=via,
            invalidation=invalidation.pk,
            count=len(changes),
            reason=reason,
        )
    return invalidation


def undo(invalidation: Invalidation, *, actor=None, via: str) -> int:
    """Put the signatures back where they were (counted, or held); returns how many."""
    with transaction.atomic():
        locked = Invalidation.objects.select_for_update().get(pk=invalidation.pk)
        if locked.undone_at:
            return 0
        rows = Signature.objects.filter(invalidation=locked)
        standing = list(rows.select_for_update().values_list(*_STANDING))
        rows.update(invalidation=None)
        locked.undone_at = timezone.now()
        locked.save(update_fields=["undone_at"])
        journal(locked.letter_id, _changes(standing, counted=+1, held=+1))
        events.record(
            "signatures.restored",
            letter=locked.letter,
            actor=actor,
            via=via,
            invalidation=locked.pk,
            count=len(standing),
        )
    return len(standing)


def release(letter: Letter, reason: str, *, actor=None, via: str) -> int:
    """Count the letter's signatures held for ``reason`` (after a person looked at them);
    returns how many. Organizers and operators both may."""
    if reason not in limits.REASONS:
        raise ValueError(f"{reason!r} is no reason to hold a signature.")
    found = list(Signature.objects.held().filter(letter=letter, flag=reason).values_list("id"))
    ids = [pk for (pk,) in found]
    with transaction.atomic():
        changes: list[Change] = []
        for start in range(0, len(ids), _CHUNK):
            rows = list(
                Signature.objects.held()
                .filter(pk__in=ids[start : start + _CHUNK], flag=reason)
                .select_for_update()
                .values_list(*_STANDING)
            )
            Signature.objects.filter(pk__in=[row[0] for row in rows]).update(flag="")
            for _, verified_domain, flag, department, display in rows:
                hidden = display in Signature.WITHHELD
                changes.append(Change(0, -1, bool(verified_domain), flag, department, hidden))
                changes.append(Change(+1, 0, bool(verified_domain), "", department, hidden))
        journal(letter.pk, changes)
        count = len(changes) // 2
        events.record(
            "signatures.released", letter=letter, actor=actor, via=via, count=count, reason=reason
        )
    return count


def change_policy(policy: Policy, fields: list[str], *, actor=None, via: str) -> Policy:
    """Save the abuse policy (an edited instance); every app server uses it within seconds."""
    with transaction.atomic():
        policy.save()
        events.record("policy.changed", actor=actor, via=via, fields=sorted(fields))
    return policy


def pause_everywhere(message: str = "", *, actor=None, via: str) -> Policy:
    """The instance-wide kill switch: every letter's form gives way to ``message``."""
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(pk=1).first() or Policy(pk=1)
        policy.signing_paused = True
        policy.pause_message = message or policy.pause_message
        policy.save()
        events.record("instance.paused", actor=actor, via=via, message=policy.pause_message)
    return policy


def resume_everywhere(*, actor=None, via: str) -> Policy:
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(pk=1).first() or Policy(pk=1)
        policy.signing_paused = False
        policy.save()
        events.record("instance.resumed", actor=actor, via=via)
    return policy
