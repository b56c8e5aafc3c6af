"""One call records what happened: ``record(kind, letter=, actor=, via=, **data)``.

Call it inside the transaction of the act, so that the event commits with it or not at all.
What the caches hold about the letter is dropped at once (for this process, which may read
the change before it commits) and again once the transaction commits (a reader elsewhere may
have cached the old state in between). The worker's ``fan_out`` job then queues the mails
that the kind sets off (``kinds.KINDS``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from undersigned.lib.times import this_hour

if TYPE_CHECKING:
    from undersigned.events.models import Event
    from undersigned.letters.models import Letter

VIAS = ("web", "admin", "command", "api", "worker")


def record(kind: str, *, letter: Letter | None = None, actor=None, via: str, **data) -> Event:
    from undersigned.events.kinds import KINDS, FanOut
    from undersigned.events.models import Event

    spec = KINDS[kind]  # an unknown kind is a programming error
    unknown = data.keys() - spec.keys
    if unknown:
        raise ValueError(f"event {kind!r} may not hold {sorted(unknown)}")
    if via not in VIAS:
        raise ValueError(f"event {kind!r}: via must be one of {VIAS}, not {via!r}")
    if via == "worker" and spec.exact_time:
        raise ValueError(f"event {kind!r}: what the worker records must be dated to the hour")
    if not connection.in_atomic_block:
        raise RuntimeError(f"event {kind!r}: record it inside the transaction of the act")
    event = Event.objects.create(
        letter=letter,
        kind=kind,
        audience=spec.audience,
        actor=actor if getattr(actor, "pk", None) else None,
        via=via,
        data=data,
        at=timezone.now() if spec.exact_time else this_hour(),
        # Mail to subscribers goes only when the organizer asked for it.
        fanned_out=spec.fan_out == FanOut.NONE
        or (spec.fan_out == FanOut.SUBSCRIBERS and not data.get("mail")),
    )
    if letter is not None:
        forget(letter.slug)
    return event


def forget(slug: str) -> None:
    """Drop what the caches hold about the letter at ``slug``, now and after the commit."""
    _forget(slug)
    transaction.on_commit(lambda: _forget(slug))


def forget_old(now=None) -> int:
    """Delete the events older than their kind's retention; returns how many."""
    from undersigned.events.kinds import KINDS
    from undersigned.events.models import Event

    now = now or timezone.now()
    deleted = 0
    for name, spec in KINDS.items():
        if spec.retention is not None:
            old = Event.objects.filter(kind=name, at__lt=now - spec.retention)
            deleted += old.delete()[0]
    return deleted


def _forget(slug: str) -> None:
    from undersigned.web.caching import forget_cached

    forget_cached(slug)
