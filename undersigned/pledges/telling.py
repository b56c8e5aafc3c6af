"""Telling committers what became of their pledge, in the worker: once per committer, each
mail queued in the transaction that marks its row (a per-recipient marker, or the row's
deletion), rows claimed with ``select_for_update(skip_locked=True)`` so that two workers
never take the same one (on SQLite the write lock serializes them).

- a met pledge: "it is live" to every confirmed committer who was not told yet (those who
  confirm after it was met too); then the organizers' one announcement, if they sent one;
- a failed pledge: "it failed" to every confirmed committer, and the commitment is deleted
  with it (row, hash, address, sealed name, links);
- addresses no longer needed are deleted (``forget_addresses``), and pending commitments
  whose link expired."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from undersigned.outbox import mail
from undersigned.pledges.models import Commitment, Pledge
from undersigned.pledges.services import announce_window

BATCH = 200


def tell(limit: int = BATCH) -> int:
    """One round; returns how much it did (0: idle)."""
    return (
        _tell("met", limit)
        + _tell("announce", limit)
        + _tell_failed(limit)
        + forget_addresses()
        + expire_pending()
    )


def _claim(queryset, limit: int) -> list[Commitment]:
    return list(queryset.select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:limit])


def _tell(what: str, limit: int) -> int:
    confirmed = Commitment.objects.confirmed().filter(pledge__status=Pledge.Status.MET)
    if what == "met":
        due, marker = confirmed.filter(told_met=False), "told_met"
    else:
        due = confirmed.filter(told_met=True, announced=False, pledge__announced_at__isnull=False)
        marker = "announced"
    with transaction.atomic():
        batch = _claim(due, limit)
        if not batch:
            return 0
        pledges = Pledge.objects.in_bulk({c.pledge_id for c in batch})
        for pledge_id in {c.pledge_id for c in batch}:
            addresses = [c.email for c in batch if c.pledge_id == pledge_id and c.email]
            mail.send_pledge_news(what, addresses, pledges[pledge_id])
        Commitment.objects.filter(pk__in=[c.pk for c in batch]).update(**{marker: True})
    return len(batch)


def _tell_failed(limit: int) -> int:
    with transaction.atomic():
        batch = _claim(Commitment.objects.filter(pledge__status=Pledge.Status.FAILED), limit)
        if not batch:
            return 0
        pledges = Pledge.objects.in_bulk({c.pledge_id for c in batch})
        for pledge_id in {c.pledge_id for c in batch}:
            addresses = [
                c.email for c in batch if c.pledge_id == pledge_id and c.is_confirmed and c.email
            ]
            mail.send_pledge_news("failed", addresses, pledges[pledge_id])
        Commitment.objects.filter(pk__in=[c.pk for c in batch]).delete()
    return len(batch)


def forget_addresses(now=None) -> int:
    """Delete the addresses of a met pledge's committers once no mail of it may go to them:
    told it is live, and the announcement sent to them or no longer possible
    (UNDERSIGNED_PLEDGE_ANNOUNCE_DAYS after the pledge was met)."""
    now = now or timezone.now()
    done = Commitment.objects.confirmed().filter(
        pledge__status=Pledge.Status.MET, told_met=True, email__isnull=False
    )
    done = done.filter(Q(announced=True) | Q(pledge__met_at__lte=now - announce_window()))
    return done.update(email=None)


def expire_pending(now=None) -> int:
    """Delete commitments whose confirmation link expired unconfirmed (with their address)."""
    now = now or timezone.now()
    return Commitment.objects.pending().filter(token_expires_at__lte=now).delete()[0]
