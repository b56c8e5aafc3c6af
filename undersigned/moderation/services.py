"""Operators' verbs: bulk invalidation (with a dry run, a public reason and undo), the
instance-wide kill switch and the abuse policy. The admin and the commands call these; each
records its event. The trending report is in ``trends``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from undersigned import events
from undersigned.letters.models import Letter
from undersigned.moderation.models import Invalidation, Policy
from undersigned.signatures.models import CountDelta, Signature


@dataclass(frozen=True)
class Criteria:
    """Which of a letter's counted signatures to invalidate. At least one of domain and
    ip_hash; the time window (on the hour the signature arrived) is optional. IP hashes exist
    only for the last UNDERSIGNED_IP_HASH_DAYS days, so matching by them works only then."""

    domain: str = ""
    ip_hash: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self):
        if not (self.domain or self.ip_hash):
            raise ValueError("Give an email domain or an IP hash to match.")

    def query(self) -> Q:
        q = Q()
        if self.domain:
            q &= Q(email_domain=self.domain.lower()) | Q(verified_domain=self.domain.lower())
        if self.ip_hash:
            q &= Q(ip_hash=self.ip_hash)
        if self.since:
            q &= Q(created_at__gte=self.since)
        if self.until:
            q &= Q(created_at__lt=self.until)
        return q

    def as_json(self) -> dict:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in asdict(self).items()
            if v
        }


def matching(letter: Letter, criteria: Criteria):
    return Signature.objects.counted().filter(criteria.query(), letter=letter)


def dry_run(letter: Letter, criteria: Criteria) -> int:
    return matching(letter, criteria).count()


_CHUNK = 500  # signatures per UPDATE when invalidating


def invalidate(
    letter: Letter, criteria: Criteria, reason: str, *, actor=None, via: str
) -> Invalidation:
    """Take the signatures that match out of the count, with ``reason`` shown publicly.

    The matching rows are found first, by a read: in a surge a letter has a million rows to
    look through (seconds on SQLite), and a write transaction that long would hold every
    other writer, signing included, until it commits. The write then marks the rows that are
    still counted, by primary key."""
    found = list(matching(letter, criteria).values_list("id", flat=True))
    with transaction.atomic():
        invalidation = Invalidation.objects.create(
            letter=letter, reason=reason, criteria=criteria.as_json(), created_by=actor
        )
        counted = verified = 0
        for start in range(0, len(found), _CHUNK):
            # Locked, and still counted: a withdrawal or another invalidation may have come
            # in between.
            rows = list(
                Signature.objects.counted()
                .filter(pk__in=found[start : start + _CHUNK])
                .select_for_update()
                .values_list("id", "verified_domain")
            )
            Signature.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                invalidation=invalidation
            )
            counted += len(rows)
            verified += sum(1 for _, domain in rows if domain)
        invalidation.count = counted
        invalidation.save(update_fields=["count"])
        if counted:
            CountDelta.objects.create(letter=letter, signatures=-counted, verified=-verified)
        events.record(
            "signatures.invalidated",
            letter=letter,
            actor=actor,
            via=via,
            invalidation=invalidation.pk,
            count=counted,
            reason=reason,
        )
    return invalidation


def undo(invalidation: Invalidation, *, actor=None, via: str) -> int:
    """Put the signatures back into the count; returns how many."""
    with transaction.atomic():
        locked = Invalidation.objects.select_for_update().get(pk=invalidation.pk)
        if locked.undone_at:
            return 0
        rows = Signature.objects.filter(invalidation=locked)
        counts = rows.aggregate(n=Count("id"), v=Count("id", filter=~Q(verified_domain="")))
        rows.update(invalidation=None)
        locked.undone_at = timezone.now()
        locked.save(update_fields=["undone_at"])
        if counts["n"]:
            CountDelta.objects.create(
                letter_id=locked.letter_id, signatures=counts["n"], verified=counts["v"]
            )
        events.record(
            "signatures.restored",
            letter=locked.letter,
            actor=actor,
            via=via,
            invalidation=locked.pk,
            count=counts["n"],
        )
    return counts["n"]


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
