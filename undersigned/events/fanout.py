"""The worker's job that turns events into mail (``kinds.Kind.fan_out``).

An event to fan out is claimed by a conditional UPDATE (``fanned_out`` false to true, one
row changed) in the transaction that queues its mails in the outbox: a worker killed halfway
leaves both undone, and two workers never both take it. Each event is mailed exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from undersigned.events.kinds import KINDS, FanOut
from undersigned.events.models import Event
from undersigned.outbox import mail


def _organizers(event: Event) -> list[str]:
    if event.letter is None:
        return []
    return [u.email for u in event.letter.organizers.filter(is_active=True) if u.email]


def _operators(event: Event) -> list[str]:
    users = get_user_model().objects.filter(is_superuser=True, is_active=True)
    return [u.email for u in users if u.email]


_TO_SUBSCRIBERS = [name for name, kind in KINDS.items() if kind.fan_out == FanOut.SUBSCRIBERS]

RECIPIENTS: dict[FanOut, Callable[[Event], list[str]]] = {
    FanOut.ORGANIZERS: _organizers,
    FanOut.OPERATORS: _operators,
}


def _trend_alert(event: Event) -> dict:
    from undersigned.moderation.models import Trend

    trend = Trend.objects.filter(pk=event.data.get("trend")).first()
    return {
        **event.data,
        "hour": datetime.fromisoformat(event.data["hour"]),
        # The key lives on the trend row, which goes with the address hashes.
        "key": trend.key if trend else "(no longer kept)",
    }


# The context of each mail kind that a fan-out sends, besides the event and its letter.
CONTEXT: dict[str, Callable[[Event], dict]] = {
    "key-added": lambda event: dict(event.data),
    "milestone": lambda event: dict(event.data),
    "pledge-decided": lambda event: {
        **event.data,
        "met": event.kind == "pledge.met",
        "days": settings.PLEDGE_ANNOUNCE_DAYS,
    },
    "trend-alert": _trend_alert,
    "news": lambda event: {},  # per subscriber: subscriptions.services.deliver
    "tip-recipient-added": lambda event: dict(event.data),
    "tip-recipient-key-added": lambda event: dict(event.data),
}


def fan_out(limit: int = 100) -> int:
    """Queue the mails of up to ``limit`` events; returns how many events were fanned out."""
    ids = list(Event.objects.to_fan_out().order_by("id").values_list("id", flat=True)[:limit])
    done = 0
    for pk in ids:
        subscribers = Event.objects.filter(pk=pk, kind__in=_TO_SUBSCRIBERS).first()
        if subscribers is not None:  # in chunks, each subscriber once (its own bookkeeping)
            from undersigned.subscriptions.services import deliver

            deliver(subscribers)
            done += 1
            continue
        with transaction.atomic():
            if not Event.objects.filter(pk=pk, fanned_out=False).update(fanned_out=True):
                continue  # another worker took it
            event = Event.objects.select_related("letter", "actor").get(pk=pk)
            spec = KINDS[event.kind]
            context = {"event": event, "letter": event.letter, **CONTEXT[spec.mail](event)}
            for address in RECIPIENTS[spec.fan_out](event):
                mail.enqueue(spec.mail, address, context)
            done += 1
    return done
