"""How a letter grew, and who signed it in aggregate, shown so that nobody can be singled out.

Growth is the cumulative count of counted signatures by the hour (or day) they were
confirmed (``confirmed_at``, kept to the hour). No bucket holding fewer than
``SMALLEST_GROUP`` (k) signatures is shown on its own: it merges with the next one, and a
thin tail merges into the last shown point. Members-only letters and small letters (fewer
than ``SMALL_LETTER`` signatures) are shown by day only, whatever is asked. A breakdown
folds every group smaller than k into "other" (and, if "other" is itself smaller than k,
the smallest shown group with it), so no group can be narrowed to a few people."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count

from undersigned.letters.models import Letter
from undersigned.web.caching import MISSING, letter_key, recent

BUCKETS = ("hour", "day")
SMALL_LETTER = 100  # fewer signatures than this: days, never hours
GROWTH_SECONDS = 60  # how long the shared cache keeps a letter's growth
OTHER = "other"


def _k() -> int:
    return settings.SMALLEST_GROUP


def effective_bucket(letter: Letter, bucket: str) -> str:
    """The bucket actually shown: members-only and small letters are coarser (days)."""
    if letter.members_only or letter.signature_count < SMALL_LETTER:
        return "day"
    return bucket


def _hourly(letter: Letter) -> list[tuple[datetime, int]]:
    """(hour, counted signatures confirmed in it), oldest first, from the signatures."""
    from undersigned.signatures.models import Signature

    rows = (
        Signature.objects.counted()
        .filter(letter=letter, confirmed_at__isnull=False)
        .values_list("confirmed_at")
        .annotate(n=Count("id"))
        .order_by("confirmed_at")
    )
    return list(rows)


def merge_sparse(buckets: list[tuple[datetime, int]], k: int) -> list[tuple[datetime, int]]:
    """Merge each bucket of fewer than ``k`` signatures into the next; a thin tail into the
    last merged bucket (dated by its own end). Nothing is shown if all hold fewer than k."""
    merged: list[tuple[datetime, int]] = []
    pending = 0
    for moment, n in buckets:
        pending += n
        if pending >= k:
            merged.append((moment, pending))
            pending = 0
    if pending and merged:
        merged[-1] = (buckets[-1][0], merged[-1][1] + pending)
    return merged


def points(letter: Letter, bucket: str) -> list[dict]:
    """``[{"t": ISO-8601, "count": cumulative}]`` at the end of each shown bucket."""
    bucket = effective_bucket(letter, bucket)
    return _computed_once(
        letter_key("growth", letter.slug, bucket), lambda: _points(letter, bucket)
    )


def _points(letter: Letter, bucket: str) -> list[dict]:
    hourly = _hourly(letter)
    if bucket == "day":
        days: Counter[datetime] = Counter()
        for hour, n in hourly:
            days[hour.replace(hour=0)] += n
        hourly = sorted(days.items())
    total = 0
    result = []
    for moment, n in merge_sparse(hourly, _k()):
        total += n
        result.append({"t": moment.isoformat(), "count": total})
    return result


_computing: dict[str, threading.Lock] = {}  # a lock per key: one letter never waits on another


def _computed_once(key: str, compute: Callable[[], Any]) -> Any:
    """The cached value at ``key``, or ``compute()``'s, cached for GROWTH_SECONDS. Computing
    reads every counted signature of the letter (a second or more at 1,000,000), so a process
    computes each value once at a time: a request that finds it being computed gets the last
    value this process had (if any) instead of computing it again, and keeps its thread free.
    Other keys (another letter's growth) do not wait for it."""
    cached = cache.get(key)
    if cached is not None:
        return cached
    stale = recent.get("stale:" + key)
    lock = _computing.setdefault(key, threading.Lock())  # atomic in CPython
    if not lock.acquire(blocking=stale is MISSING):
        return stale
    try:
        cached = cache.get(key)  # computed while this one waited
        if cached is None:
            cached = compute()
            cache.set(key, cached, GROWTH_SECONDS)
            recent.set("stale:" + key, cached, GROWTH_SECONDS * 10)
        return cached
    finally:
        lock.release()


def fold(groups: dict[str, int], k: int | None = None) -> dict[str, int]:
    """Groups of at least ``k``; the rest summed as "other", which is itself at least k (the
    smallest shown group joins it until it is) or absent."""
    k = _k() if k is None else k
    shown = {name: n for name, n in groups.items() if n >= k and name != OTHER}
    other = sum(n for name, n in groups.items() if name not in shown)
    while 0 < other < k and shown:
        smallest = min(shown, key=lambda name: (shown[name], name))
        other += shown.pop(smallest)
    if other >= k:
        shown[OTHER] = other
    return dict(sorted(shown.items(), key=lambda item: (item[0] == OTHER, -item[1], item[0])))


def breakdown(letter: Letter) -> dict[str, dict[str, int]]:
    """Counted signatures by department, public ones by the organization they gave (as the
    worker last counted them: ``signatures.affiliations``) and all by how they were
    verified, folded (``fold``)."""
    return _computed_once(letter_key("breakdown", letter.slug), lambda: _breakdown(letter))


def _breakdown(letter: Letter) -> dict[str, dict[str, int]]:
    from undersigned.signatures import affiliations, forge
    from undersigned.signatures.models import Signature, Tally

    departments = dict(
        Tally.objects.filter(letter=letter, dimension=Tally.Dimension.DEPARTMENT)
        .exclude(key="")
        .values_list("key", "signatures")
    )
    verified = (
        Signature.objects.counted()
        .filter(letter=letter)
        .exclude(verified_domain="")
        .values_list("verified_domain", "forge")
        .annotate(n=Count("id"))
    )
    verification: dict[str, int] = {}
    for domain, forge_name, n in verified if letter.verified_count else []:
        if forge_name in forge.FORGES:
            group = f"{forge.label(forge_name)} account"
        elif letter.domain_list:
            group = f"email at {domain}"
        else:
            continue
        verification[group] = verification.get(group, 0) + n
    unverified = letter.signature_count - sum(verification.values())
    if unverified > 0:
        verification[
            "email, not at the organization" if letter.domain_list else "email, not verified"
        ] = unverified
    return {
        "department": fold(departments),
        "organization": affiliations.groups(letter),
        "verification": fold(verification),
    }


def chart_points(letter, bucket: str = "day") -> tuple[str, list[tuple[str, int]]]:
    """The shown bucket and (label, cumulative count) for each point."""
    shown = effective_bucket(letter, bucket)
    fmt = "%Y-%m-%d %H:00 UTC" if shown == "hour" else "%Y-%m-%d"
    return shown, [
        (datetime.fromisoformat(p["t"]).strftime(fmt), p["count"]) for p in points(letter, bucket)
    ]


def describe(letter, shown: str, points: list[tuple[str, int]]) -> str:
    if not points:
        return "Too few signatures yet to show how the letter grew without singling anyone out."
    per = "hour" if shown == "hour" else "day"
    steps = "; ".join(f"{label}: {n:,}" for label, n in points)
    return f"Confirmed signatures over time, cumulative, by {per}. {steps}."
