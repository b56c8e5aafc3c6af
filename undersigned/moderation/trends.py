"""The trending report and the operators' alert: signatures per letter, hour, and email
domain or client-address hash.

The worker adds every batch of signatures it records to ``Trend`` (one statement per batch),
so neither the report nor the alert aggregates the signatures table: during a surge that held
a million rows for the hour, and aggregating them took seconds each time (14 s for the report
on SQLite, 2 s a minute for the alert). The statement returns each row's new total, so the
alert goes out as a key crosses the threshold, once per letter, key and hour, with no scan
at all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone

from undersigned import events
from undersigned.db import rows
from undersigned.letters.models import Letter
from undersigned.moderation.models import Policy, Trend

if TYPE_CHECKING:
    from undersigned.signatures.models import IntakeDetails

FIELDS = (Trend.Field.DOMAIN, Trend.Field.CLIENT)
_CHUNK = 1000  # rows per statement: 7,000 parameters, under every database's limit


def record(
    letters: dict[int, Letter], signatures: Iterable[tuple[int, IntakeDetails]], hour
) -> None:
    """Add ``signatures`` ((letter id, intake details) pairs, recorded in ``hour``) to the
    hour's counts, and alert the operators about every key that passed the threshold. Runs
    in the worker's transaction that records them."""
    counted: Counter[tuple[int, str, str]] = Counter()
    flagged: Counter[tuple[int, str, str]] = Counter()
    for letter_id, details in signatures:
        for field in FIELDS:
            value = details.get(field.value)
            if value:
                key = (letter_id, field.value, str(value))
                counted[key] += 1
                flagged[key] += bool(details.get("flag"))
    if not counted:
        return
    # In one order in every worker, so that two that share keys never deadlock on PostgreSQL.
    keys = sorted(counted)
    when = connection.ops.adapt_datetimefield_value(hour)
    threshold = Policy.current().trending_alert_per_hour
    over = []
    with connection.cursor() as cursor:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            params = []
            for key in chunk:
                params += [key[0], when, key[1], key[2], counted[key], flagged[key], False]
            cursor.execute(_upsert_sql(len(chunk)), params)
            over += [row for row in cursor.fetchall() if row[4] > threshold and not row[5]]
    if over:
        Trend.objects.filter(pk__in=[row[0] for row in over]).update(alerted=True)
        for trend_id, letter_id, field, _key, count, _ in over:
            # The worker's fan-out mails it to the operators; the key stays on the trend row.
            events.record(
                "trend.alert",
                letter=letters[letter_id],
                via="worker",
                trend=trend_id,
                field=field,
                count=count,
                threshold=threshold,
                hour=hour.isoformat(),
            )


@lru_cache(maxsize=32)
def _upsert_sql(n: int) -> str:
    table = rows.table(Trend)
    names = ["letter_id", "hour", "field", "key", "signatures", "flagged", "alerted"]
    columns = ", ".join(rows.column(Trend, name) for name in names)
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * n)
    signatures, flagged = rows.column(Trend, "signatures"), rows.column(Trend, "flagged")
    conflict = ", ".join(rows.column(Trend, name) for name in names[:4])
    returned = ", ".join(
        rows.column(Trend, name)
        for name in ("id", "letter_id", "field", "key", "signatures", "alerted")
    )
    return (
        f"INSERT INTO {table} ({columns}) VALUES {values} "  # noqa: S608  (names from the model)
        f"ON CONFLICT ({conflict}) DO UPDATE SET "
        f"{signatures} = {table}.{signatures} + excluded.{signatures}, "
        f"{flagged} = {table}.{flagged} + excluded.{flagged} "
        f"RETURNING {returned}"
    )


def report(letter: Letter, hours: int = 24, top: int = 10) -> dict[str, list]:
    """The busiest (hour, key) pairs of the last ``hours`` hours, per field, busiest first:
    ``{"email_domain": [{"hour", "key", "signatures", "flagged"}, ...], "ip_hash": [...]}``."""
    since = timezone.now() - timedelta(hours=hours)
    found = Trend.objects.filter(letter=letter, hour__gte=since)
    return {
        field.value: list(
            found.filter(field=field)
            .order_by("-signatures", "-hour", "key")
            .values("hour", "key", "signatures", "flagged")[:top]
        )
        for field in FIELDS
    }


def forget_old(cutoff: datetime) -> int:
    """Delete the counts of hours before ``cutoff`` (with the IP hashes they were made of)."""
    return Trend.objects.filter(hour__lt=cutoff).delete()[0]
