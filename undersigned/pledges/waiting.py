"""Showing a `threshold` committer's name once the pledge is met and enough have committed.

A committer who chooses `threshold` with ``public_after`` N is not named (as a hidden one is
not) until the pledge is met and its count of confirmed commitments reaches N. Until then
their name, affiliation, department and comment are kept only sealed: to the organizers' keys
(``sealed``, as a hidden committer's) and to the pledge's threshold key for N
(``threshold_sealed``, ``lib.thresholds``: derived from the instance secret, which is not in
the database, for the scope ``pledge:<id>:<key salt>``).

``reveal_due`` runs in the worker's pledge round (``deciding.decide``), under the counter's
lock, after the counts are folded: it opens the boxes whose N the count reached, keeps their
fields as a public committer's are kept (encrypted at rest, ``lib.vault``), drops both boxes
and makes them `public` (``public_after`` stays, for the private page), each with a
conditional UPDATE: so each name appears exactly once however many workers run. It takes at
most ``LIMIT`` a round; the round says it did something, and the next one takes the rest. A
failed pledge's commitments are deleted, boxes and all (``telling``)."""

from __future__ import annotations

import logging

from django.db.models import F

from undersigned.lib import thresholds
from undersigned.pledges.models import Commitment, Pledge

log = logging.getLogger(__name__)

LIMIT = 500  # names shown per round

FIELDS = ("name", "affiliation", "department", "comment")


def scope(pledge: Pledge) -> str:
    """The threshold keys' scope of ``pledge``: with its salt, as a letter's is."""
    if not pledge.key_salt:
        raise thresholds.ThresholdError(f"pledge {pledge.slug}: its key was destroyed")
    return f"pledge:{pledge.pk}:{pledge.key_salt}"


def seal(pledge: Pledge, n: int, fields: dict[str, str]) -> dict:
    return thresholds.seal(scope(pledge), n, fields)


def opened(commitment: Commitment) -> dict[str, str] | None:
    """What a waiting commitment will show at its N, or None if it has no box this server
    can open."""
    if not commitment.threshold_sealed or not commitment.public_after:
        return None
    try:
        return thresholds.unseal(
            scope(commitment.pledge), commitment.public_after, commitment.threshold_sealed
        )
    except thresholds.ThresholdError:
        return None


def reveal_due(limit: int | None = None) -> int:
    """Show the names of up to ``limit`` confirmed waiting commitments of met pledges whose
    count reached their N. Call it under the counter's lock. Returns how many."""
    limit = LIMIT if limit is None else limit
    due = list(
        Commitment.objects.confirmed()
        .filter(
            display=Commitment.Display.THRESHOLD,
            threshold_sealed__isnull=False,
            pledge__status=Pledge.Status.MET,
            public_after__lte=F("pledge__commitment_count"),
        )
        .select_related("pledge")
        .only("id", "public_after", "threshold_sealed", "pledge__id", "pledge__key_salt")
        .order_by("pledge_id", "public_after")[:limit]
    )
    shown = 0
    for commitment in due:
        still = Commitment.objects.filter(
            pk=commitment.pk,
            display=Commitment.Display.THRESHOLD,
            public_after=commitment.public_after,
            threshold_sealed__isnull=False,
        )
        fields = opened(commitment)
        if fields is None:
            # Cannot be opened (another secret, damage): it stays hidden, sealed to the
            # organizers, rather than wait for ever.
            log.warning("a threshold name on a pledge cannot be opened; kept hidden")
            still.update(display=Commitment.Display.HIDDEN, threshold_sealed=None)
            continue
        shown += still.update(
            display=Commitment.Display.PUBLIC,
            **{name: fields.get(name, "") for name in FIELDS},
            sealed=None,
            threshold_sealed=None,
        )
    return shown
