"""Times that concern a signer are kept to the hour, never the second (THREAT_MODEL.md)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def to_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def this_hour() -> datetime:
    return to_hour(timezone.now())
