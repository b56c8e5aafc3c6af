"""Bulk invalidation (with a dry run, a public reason, an audit entry and undo). The admin and
the `invalidate` command both call these; the trending report is in ``trends``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from undersigned.letters.models import Letter
from undersigned.moderation.models import Invalidation, audit
from undersigned.signatures.models import CountDelta, Signature
from undersigned.web.caching import forget_cached


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


def invalidate(letter: Letter, criteria: Criteria, reason: str, actor) -> Invalidation:
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
        audit(
            actor,
            "invalidate",
            letter,
            invalidation=invalidation.pk,
            count=counted,
            reason=reason,
            criteria=criteria.as_json(),
        )
    forget_cached(letter.slug)
    return invalidation


def undo(invalidation: Invalidation, actor) -> int:
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
        audit(actor, "undo-invalidation", locked.letter, invalidation=locked.pk, count=counts["n"])
    forget_cached(locked.letter.slug)
    return counts["n"]
