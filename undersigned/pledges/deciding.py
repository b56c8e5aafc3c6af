"""Counting and deciding pledges, in the worker, under the counter's lock
(``signatures.counting``): so each pledge is decided exactly once however many workers run,
and a count that jumps past the threshold decides it once.

Each round recounts the confirmed commitments of the pledges still counting (open ones, and
met ones until a day after their deadline), then: an open pledge whose count reached its
threshold is **met** (dated to the hour); an open pledge past its deadline below it has
**failed**. The decision is a conditional UPDATE (``status='open'``) inside the lock, and its
event commits with it. Then, in the same transaction, the names of `threshold` committers
whose N a met pledge's count reached appear (``waiting.reveal_due``, a bounded batch a round).
Telling the committers is ``telling``'s."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from undersigned import events
from undersigned.lib.times import this_hour
from undersigned.pledges import waiting
from undersigned.pledges.models import Commitment, Pledge
from undersigned.signatures.counting import _take_counter_lock


def decide(now=None) -> int:
    """One round: recount, decide, and show the names now due. Returns how many pledges
    changed and names appeared (0: idle)."""
    now = now or timezone.now()
    hour = this_hour()
    changed = 0
    with transaction.atomic():
        _take_counter_lock()
        counting = Pledge.objects.published().filter(
            Q(status=Pledge.Status.OPEN)
            | Q(status=Pledge.Status.MET, deadline__gte=(now - timedelta(days=2)).date())
        )
        # Lock the rows first: a withdrawal (which locks its pledge) either lands before the
        # count or sees the decision.
        pledges = list(counting.select_for_update().order_by("pk"))
        if not pledges:
            return waiting.reveal_due()
        counts = {
            row["pledge"]: (row["n"], row["verified"])
            for row in Commitment.objects.confirmed()
            .filter(pledge__in=[p.pk for p in pledges])
            .order_by()
            .values("pledge")
            .annotate(n=Count("id"), verified=Count("id", filter=~Q(verified_domain="", forge="")))
        }
        for pledge in pledges:
            n, verified = counts.get(pledge.pk, (0, 0))
            fields: dict = {}
            if (n, verified) != (pledge.commitment_count, pledge.verified_count):
                fields.update(commitment_count=n, verified_count=verified, counted_at=hour)
            decision = ""
            if pledge.status == Pledge.Status.OPEN and n >= pledge.threshold:
                decision = "met"
                fields.update(status=Pledge.Status.MET, met_at=hour)
            elif pledge.status == Pledge.Status.OPEN and pledge.deadline_passed(now):
                decision = "failed"
                fields.update(status=Pledge.Status.FAILED, failed_at=hour)
            if not fields:
                continue
            updated = Pledge.objects.filter(pk=pledge.pk, status=pledge.status).update(**fields)
            changed += updated
            if updated and decision and pledge.letter_id:
                events.record(
                    f"pledge.{decision}",
                    letter=pledge.letter,
                    via="worker",
                    pledge=pledge.slug,
                    action=pledge.action,
                    threshold=pledge.threshold,
                    count=n,
                )
        changed += waiting.reveal_due()
    return changed
