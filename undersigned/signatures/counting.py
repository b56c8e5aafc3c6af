"""Batched counting, as the UK Parliament petitions site does since its 2019 surge.

Signing and confirming never write the letter row. Confirmations append to ``CountDelta``;
``apply_deltas`` (run by the worker every second) folds a batch of those into the letters'
counts; ``reconcile`` recomputes every count from the signatures themselves.

Only one counter may run at a time: on PostgreSQL an advisory transaction lock, on SQLite the
write lock that every IMMEDIATE transaction takes anyway."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from undersigned.db import rows as plain
from undersigned.letters.models import Letter, SlugRedirect
from undersigned.lib.times import this_hour
from undersigned.signatures.models import CountDelta, Signature, Tally
from undersigned.web.caching import MISSING, SHARED_CACHE, etag_for, letter_key, recent

COUNTER_LOCK_ID = 0x756E6473  # "unds"


def _take_counter_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COUNTER_LOCK_ID])


class Change(NamedTuple):
    """How one signature's standing changes: +1/-1 counted, +1/-1 held (for ``flag``)."""

    counted: int
    held: int
    verified: bool
    flag: str
    department: str
    hidden: bool
    version: int | None = None

    @classmethod
    def of(
        cls,
        signature,
        counted: int = 0,
        held: int = 0,
        flag: str | None = None,
        version: int | None = None,
    ) -> Change:
        return cls(
            counted,
            held,
            bool(signature.verified_domain),
            signature.flag if flag is None else flag,
            signature.department,
            signature.display in Signature.WITHHELD,
            signature.version if version is None else version,
        )


def journal(letter_id: int, changes: Iterable[Change]) -> None:
    """Write ``changes`` to the count journal, one row per group, inside the caller's
    transaction (the verbs that change a signature's standing: withdraw, hold, release,
    invalidate, undo, a new display). Confirming writes its own row (a trigger)."""
    groups: dict[tuple[str, str, bool, int | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    for change in changes:
        flag = change.flag if change.held else ""
        group = groups[(flag, change.department, change.hidden, change.version)]
        group[0] += change.counted
        group[1] += change.counted if change.verified else 0
        group[2] += change.held
    CountDelta.objects.bulk_create(
        CountDelta(
            letter_id=letter_id,
            signatures=signatures,
            verified=verified,
            held=held,
            flag=flag,
            department=department,
            hidden=hidden,
            version=version,
        )
        for (flag, department, hidden, version), (signatures, verified, held) in groups.items()
        if signatures or held
    )


_DELTA_FIELDS = (
    "id",
    "letter_id",
    "signatures",
    "verified",
    "held",
    "flag",
    "department",
    "hidden",
    "version",
)


def apply_deltas(batch: int = 5000) -> int:
    """Fold up to ``batch`` journal rows into the letter counts and tallies; return how
    many."""
    with transaction.atomic():
        _take_counter_lock()
        rows = list(CountDelta.objects.order_by("id").values_list(*_DELTA_FIELDS)[:batch])
        if not rows:
            return 0
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        tallies: Counter[tuple[int, str, str]] = Counter()
        for _id, letter_id, signatures, verified, held, flag, department, hidden, version in rows:
            total = totals[letter_id]
            total[0] += signatures
            total[1] += verified
            total[2] += held
            tallies[(letter_id, Tally.Dimension.DEPARTMENT.value, department)] += signatures
            if hidden:
                tallies[(letter_id, Tally.Dimension.HIDDEN_DEPARTMENT.value, department)] += (
                    signatures
                )
            if held:
                tallies[(letter_id, Tally.Dimension.HELD.value, flag)] += held
            if version is not None:
                tallies[(letter_id, Tally.Dimension.VERSION.value, str(version))] += signatures
        # Delete exactly the rows read (not "everything up to an id"): a row with a lower id
        # may commit later, and must be counted in the next batch, not lost.
        CountDelta.objects.filter(id__in=[row[0] for row in rows]).delete()
        now = this_hour()  # the hour, not the second: it would date the batch's signers
        for letter_id, (signatures, verified, held) in totals.items():
            Letter.objects.filter(pk=letter_id).update(
                signature_count=F("signature_count") + signatures,
                verified_count=F("verified_count") + verified,
                held_count=F("held_count") + held,
                counted_at=now,
            )
        _add_tallies({key: n for key, n in tallies.items() if n})
        from undersigned.letters.milestones import stamp

        stamp([letter_id for letter_id, total in totals.items() if total[0] > 0], now)
        from undersigned.signatures.reveal import reveal_due

        reveal_due(list(totals))  # names whose threshold the counts reached
    refresh_counts(list(totals))  # after the commit, for readers in other processes
    return len(rows)


_CHUNK = 1000  # tallies per statement


def _add_tallies(tallies: dict[tuple[int, str, str], int]) -> None:
    keys = sorted(tallies)  # one order in every counter (there is one at a time anyway)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            params: list = []
            for key in chunk:
                params += [*key, tallies[key]]
            cursor.execute(_tally_upsert(len(chunk)), params)


@lru_cache(maxsize=16)
def _tally_upsert(n: int) -> str:
    table = plain.table(Tally)
    names = ["letter_id", "dimension", "key", "signatures"]
    columns = ", ".join(plain.column(Tally, name) for name in names)
    values = ", ".join(["(%s, %s, %s, %s)"] * n)
    conflict = ", ".join(plain.column(Tally, name) for name in names[:3])
    signatures = plain.column(Tally, "signatures")
    return (
        f"INSERT INTO {table} ({columns}) VALUES {values} "  # noqa: S608  (names from the model)
        f"ON CONFLICT ({conflict}) DO UPDATE SET "
        f"{signatures} = {table}.{signatures} + excluded.{signatures}"
    )


def reconcile() -> list[tuple[str, tuple[int, int, int], tuple[int, int, int]]]:
    """Recompute every letter's counts (counted, verified, held) and tallies from its
    signatures; return (slug, old, new) for each letter whose counts were wrong.

    With the counter locked out, each statement (one snapshot, on PostgreSQL too) sets a value
    to what the signatures say minus the journal rows not yet applied; those rows stay in the
    journal and the counter adds them as usual."""

    def number(rows):
        return Coalesce(
            Subquery(rows.order_by().values("letter").annotate(n=Count("id")).values("n")), 0
        )

    def journal_sum(field):
        rows = CountDelta.objects.filter(letter=OuterRef("pk")).order_by().values("letter")
        return Coalesce(Subquery(rows.annotate(n=Sum(field)).values("n")), 0)

    mine = {"letter": OuterRef("pk")}
    with transaction.atomic():
        _take_counter_lock()
        counts = ("signature_count", "verified_count", "held_count")
        before = {row[0]: row[1:] for row in Letter.objects.values_list("slug", *counts)}
        Letter.objects.update(
            signature_count=number(Signature.objects.counted().filter(**mine))
            - journal_sum("signatures"),
            verified_count=number(
                Signature.objects.counted().filter(**mine).exclude(verified_domain="")
            )
            - journal_sum("verified"),
            held_count=number(Signature.objects.held().filter(**mine)) - journal_sum("held"),
            counted_at=this_hour(),
        )
        after = {row[0]: row[1:] for row in Letter.objects.values_list("slug", *counts)}
        _recount_tallies()
    refresh_counts(Letter.objects.values_list("pk", flat=True))
    return [(slug, before[slug], now) for slug, now in after.items() if before[slug] != now]


def _recount_tallies() -> None:
    """Every tally from the signatures, minus the journal not yet applied, in one statement
    (one snapshot), after deleting the old ones (only the counter writes tallies, and it is
    locked out)."""
    s, d, t = plain.table(Signature), plain.table(CountDelta), plain.table(Tally)
    dimension = Tally.Dimension
    counted = f"{s}.status = 'confirmed' AND {s}.invalidation_id IS NULL AND {s}.flag = ''"
    held = f"{s}.status = 'confirmed' AND {s}.invalidation_id IS NULL AND {s}.flag <> ''"
    hidden = f"{s}.display IN ('hidden', 'threshold')"  # ``Signature.WITHHELD``
    version = "CAST(version AS TEXT)" if connection.vendor == "sqlite" else "version::text"
    true = "TRUE" if connection.vendor == "postgresql" else "1"

    def part(key: str, value: str, table: str, where: str, dim) -> str:
        return (
            f"SELECT letter_id AS l, '{dim}' AS dim, {key} AS k, {value} AS n FROM {table} "  # noqa: S608
            f"WHERE {where} GROUP BY letter_id, {key}"
        )

    parts = [
        part("department", "COUNT(*)", s, counted, dimension.DEPARTMENT),
        part("department", "COUNT(*)", s, f"{counted} AND {hidden}", dimension.HIDDEN_DEPARTMENT),
        part("flag", "COUNT(*)", s, held, dimension.HELD),
        part("department", "-SUM(signatures)", d, "signatures <> 0", dimension.DEPARTMENT),
        part(
            "department",
            "-SUM(signatures)",
            d,
            f"signatures <> 0 AND hidden = {true}",
            dimension.HIDDEN_DEPARTMENT,
        ),
        part("flag", "-SUM(held)", d, "held <> 0", dimension.HELD),
        part(version, "COUNT(*)", s, f"{counted} AND {s}.version IS NOT NULL", dimension.VERSION),
        part(
            version,
            "-SUM(signatures)",
            d,
            "signatures <> 0 AND version IS NOT NULL",
            dimension.VERSION,
        ),
    ]
    union = " UNION ALL ".join(parts)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {t}")  # noqa: S608  (names from the models)
        cursor.execute(
            f"INSERT INTO {t} (letter_id, dimension, {plain.column(Tally, 'key')}, signatures) "  # noqa: S608
            f"SELECT l, dim, k, SUM(n) FROM ({union}) AS parts "
            "GROUP BY l, dim, k HAVING SUM(n) <> 0"
        )


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
            "held_count": row["held_count"],
            "counted_at": counted_at,
        }
    ).encode()
    return {"status": 200, "body": body, "etag": etag_for(body)}


COUNT_FIELDS = (
    "slug",
    "signature_count",
    "verified_count",
    "held_count",
    "counted_at",
    "visibility",
    "hide_count",
)


def _moved_entry(slug: str) -> dict:
    """No letter at ``slug``; if a published one had it before, where it went."""
    moved = (
        SlugRedirect.objects.filter(slug=slug, letter__in=Letter.objects.published())
        .values_list("letter__slug", flat=True)
        .first()
    )
    return {"status": 301, "moved": moved} if moved else {"status": 404}


def count_entry(slug: str) -> dict:
    """The cached count answer for ``slug``: this process's copy, else the shared cache's,
    else one query (whose answer both keep)."""
    key = _count_key(slug)
    entry = recent.get(key)
    if entry is MISSING:
        entry = cache.get(key) if SHARED_CACHE else None
        if entry is None:
            row = Letter.objects.published().filter(slug=slug).values(*COUNT_FIELDS).first()
            entry = _count_entry(row) if row else _moved_entry(slug)
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
