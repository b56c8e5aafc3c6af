"""At most a few mails per address per hour, whatever is submitted: the instance must never
be a tool to flood someone's work inbox (200 signing requests in 2 s used to send 200
mails), nor to write them 200 times into their employer's mail logs.

Every mail that a stranger can cause (confirmations, "you already signed", members-only
links, password resets) asks ``allow`` first; over the cap, no mail is queued, and nothing
in any answer says so. Mail to the instance's own people (organizers, operators) is not
capped: only they can cause it, and it carries warnings that must arrive."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from django.conf import settings
from django.db import connection

from undersigned.db import rows
from undersigned.lib.emails import canonical_email
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import derive_key, keyed_hash
from undersigned.outbox.models import MailQuota

_CHUNK = 500


def _recipient(address: str, hour_key: bytes) -> str:
    return keyed_hash(hour_key, canonical_email(address)).hex()


def allow(addresses: list[str]) -> list[bool]:
    """Whether each mail (to ``addresses``, in order) stays within this hour's cap; counts
    them. In the caller's transaction."""
    if not addresses:
        return []
    hour = this_hour()
    hour_key = derive_key(settings.SECRET_KEY, "mail-quota", hour.isoformat().encode())
    keys = [_recipient(address, hour_key) for address in addresses]
    wanted = Counter(keys)
    totals: dict[str, int] = {}
    when = connection.ops.adapt_datetimefield_value(hour)
    recipients = sorted(wanted)  # one order in every worker: no deadlocks
    with connection.cursor() as cursor:
        for start in range(0, len(recipients), _CHUNK):
            chunk = recipients[start : start + _CHUNK]
            params: list = []
            for key in chunk:
                params += [key, when, wanted[key]]
            cursor.execute(_upsert(len(chunk)), params)
            totals.update(dict(cursor.fetchall()))
    cap = settings.MAILS_PER_ADDRESS_PER_HOUR
    seen: Counter[str] = Counter()
    allowed = []
    for key in keys:
        seen[key] += 1
        before = totals[key] - wanted[key]  # mails counted before this call
        allowed.append(before + seen[key] <= cap)
    return allowed


@lru_cache(maxsize=8)
def _upsert(n: int) -> str:
    table = rows.table(MailQuota)
    recipient, hour, mails = (rows.column(MailQuota, f) for f in ("recipient", "hour", "mails"))
    values = ", ".join(["(%s, %s, %s)"] * n)
    return (
        f"INSERT INTO {table} ({recipient}, {hour}, {mails}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({recipient}, {hour}) DO UPDATE SET {mails} = {table}.{mails} + "
        f"excluded.{mails} RETURNING {recipient}, {mails}"
    )


def forget_old() -> int:
    """Delete the counts of hours that have passed."""
    return MailQuota.objects.filter(hour__lt=this_hour()).delete()[0]
