"""Batched counting, as the UK Parliament petitions site does since its 2019 surge.

Signing and confirming never write the letter row. Confirmations append to ``CountDelta``;
``apply_deltas`` (run by the worker every second) folds a batch of those into the letters'
counts; ``reconcile`` recomputes every count from the signatures themselves.

Only one counter may run at a time: on PostgreSQL an advisory transaction lock, on SQLite the
write lock that every IMMEDIATE transaction takes anyway."""

from __future__ import annotations

import json
from collections import defaultdict

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from undersigned.letters.models import Letter
from undersigned.signatures.models import CountDelta, Signature
from undersigned.web.caching import MISSING, SHARED_CACHE, etag_for, letter_key, recent

COUNTER_LOCK_ID = 0x756E6473  # "unds"


def _take_counter_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COUNTER_LOCK_ID])


def apply_deltas(batch: int = 5000) -> int:
    """Fold up to ``batch`` journal rows into the letter counts; return how many."""
    with transaction.atomic():
        _take_counter_lock()
        rows = list(
            CountDelta.objects.order_by("id").values_list(
                "id", "letter_id", "signatures", "verified"
            )[:batch]
        )
        if not rows:
            return 0
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for _id, letter_id, signatures, verified in rows:
            totals[letter_id][0] += signatures
            totals[letter_id][1] += verified
        # Delete exactly the rows read (not "everything up to an id"): a row with a lower id
        # may commit later, and must be counted in the next batch, not lost.
        CountDelta.objects.filter(id__in=[row[0] for row in rows]).delete()
        now = timezone.now()
        for letter_id, (signatures, verified) in totals.items():
            Letter.objects.filter(pk=letter_id).update(
                signature_count=F("signature_count") + signatures,
                verified_count=F("verified_count") + verified,
                counted_at=now,
            )
    refresh_counts(list(totals))  # after the commit, for readers in other processes
    return len(rows)


def reconcile() -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """Recompute every letter's counts from its signatures; return (slug, old, new) for each
    letter whose (signature count, verified count) was wrong.

    With the counter locked out, one UPDATE (one snapshot, on PostgreSQL too) sets each count
    to the confirmed signatures minus the journal rows not yet applied; those rows stay in the
    journal and the counter adds them as usual."""

    def confirmed(**only):
        rows = Signature.objects.counted().filter(letter=OuterRef("pk")).exclude(**only)
        return Coalesce(
            Subquery(rows.order_by().values("letter").annotate(n=Count("id")).values("n")), 0
        )

    def journal(field):
        rows = CountDelta.objects.filter(letter=OuterRef("pk")).order_by().values("letter")
        return Coalesce(Subquery(rows.annotate(n=Sum(field)).values("n")), 0)

    with transaction.atomic():
        _take_counter_lock()
        counts = ("signature_count", "verified_count")
        before = {row[0]: row[1:] for row in Letter.objects.values_list("slug", *counts)}
        Letter.objects.update(
            signature_count=confirmed() - journal("signatures"),
            verified_count=confirmed(verified_domain="") - journal("verified"),
            counted_at=timezone.now(),
        )
        after = {row[0]: row[1:] for row in Letter.objects.values_list("slug", *counts)}
    refresh_counts(Letter.objects.values_list("pk", flat=True))
    return [(slug, before[slug], now) for slug, now in after.items() if before[slug] != now]


# --- the count endpoint's cache ---------------------------------------------------------------

COUNT_SECONDS = 5  # in the shared cache; the counter refreshes entries it changes
# Without Redis (SHARED_CACHE false) each process has its own cache, which the counter
# (another process) cannot refresh: then an app process asks the database once a second.
RECENT_SECONDS = 1  # in each process


def _count_key(slug: str) -> str:
    return letter_key("count", slug)


def _count_entry(row: dict | None) -> dict:
    """What the count endpoint serves for a letter row (or no row): a ready JSON body."""
    if row is None:
        return {"status": 404}
    if row["visibility"] == Letter.Visibility.MEMBERS and row["hide_count"]:
        return {"status": 403}
    counted_at = row["counted_at"].isoformat() if row["counted_at"] else None
    body = json.dumps(
        {
            "signature_count": row["signature_count"],
            "verified_count": row["verified_count"],
            "counted_at": counted_at,
        }
    ).encode()
    return {"status": 200, "body": body, "etag": etag_for(body)}


COUNT_FIELDS = (
    "slug",
    "signature_count",
    "verified_count",
    "counted_at",
    "visibility",
    "hide_count",
)


def count_entry(slug: str) -> dict:
    """The cached count answer for ``slug``: this process's copy, else the shared cache's,
    else one query (whose answer both keep)."""
    key = _count_key(slug)
    entry = recent.get(key)
    if entry is MISSING:
        entry = cache.get(key) if SHARED_CACHE else None
        if entry is None:
            row = Letter.objects.published().filter(slug=slug).values(*COUNT_FIELDS).first()
            entry = _count_entry(row)
            if SHARED_CACHE:
                cache.set(key, entry, COUNT_SECONDS)
        recent.set(key, entry, RECENT_SECONDS)
    return entry


def refresh_counts(letter_ids) -> None:
    """After a batch: put the new counts in the shared cache (which app servers read when
    their own copy expires)."""
    if not SHARED_CACHE:
        return
    rows = Letter.objects.published().filter(pk__in=letter_ids).values(*COUNT_FIELDS)
    cache.set_many({_count_key(row["slug"]): _count_entry(row) for row in rows}, COUNT_SECONDS)
