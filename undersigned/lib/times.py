"""Times that concern a signer are kept to the hour, never the second (THREAT_MODEL.md)."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime

from django.utils import timezone


def to_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def this_hour() -> datetime:
    return to_hour(timezone.now())


# --- time zones of deadlines ----------------------------------------------------------------


@functools.cache
def zone_names() -> tuple[str, ...]:
    """The IANA time zones a deadline can be given in, UTC first."""
    return ("UTC", *sorted(n for n in zoneinfo.available_timezones() if "/" in n))


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def in_zone(wall: datetime, name: str) -> datetime | None:
    """The moment when clocks in zone ``name`` read ``wall`` (naive), or None if they never
    do (the hour skipped when clocks go forward). Of two such moments, the first."""
    tz = zone(name)
    moment = wall.replace(tzinfo=tz, fold=0)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return moment
