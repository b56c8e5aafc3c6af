"""Showing a `threshold` signer's name once enough people have signed.

A signer who chooses `threshold` with ``public_after`` N is listed as "name withheld" (as a
hidden signer is) until the letter's count reaches N: its confirmed count, or its verified
count if the letter verifies (has domains of its own). Until then their name, affiliation
and comment are kept only sealed: to the organizers' keys (``sealed``, as a hidden signer's)
and to the letter's threshold key for N (``threshold_sealed``, ``lib.thresholds``: derived
from the instance secret, which is not in the database).

``reveal_due`` runs in the counter's batch (``counting.apply_deltas``), under its lock, after
the counts are folded: it opens the boxes of the signatures whose N the count reached, keeps
their names as a public signer's are kept (encrypted at rest, ``lib.vault``), drops both
boxes, and makes them `public` (``public_after`` stays, for their private page). So each is
shown exactly once however many workers run. It takes at most ``limit`` signatures a batch;
what it journals (each moves from the hidden tallies to the public ones) brings the letter
back into the next batch, which takes the next ones. A count that falls back below N later
does not hide a name that appeared."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction

from undersigned.letters.models import Letter
from undersigned.lib import thresholds
from undersigned.signatures.models import Signature
from undersigned.web.caching import forget_cached

log = logging.getLogger(__name__)

LIMIT = 500  # names shown per batch of the counter


def scope(letter: Letter) -> str:
    """The threshold keys' scope of ``letter``: with its salt, so that destroying the salt
    (the purge of a closed letter's data) makes its waiting names unreadable for good."""
    if not letter.key_salt:
        raise thresholds.ThresholdError(f"letter {letter.slug}: its key was destroyed")
    return f"letter:{letter.pk}:{letter.key_salt}"


def seal(letter: Letter, n: int, fields: dict[str, str]) -> dict:
    return thresholds.seal(scope(letter), n, fields)


def opened(letter: Letter, signature: Signature) -> dict[str, str] | None:
    """What a waiting signature will show at its N (for its confirmation and private pages),
    or None if it has no box this server can open."""
    if not signature.threshold_sealed or not signature.public_after:
        return None
    try:
        return thresholds.unseal(scope(letter), signature.public_after, signature.threshold_sealed)
    except thresholds.ThresholdError:
        return None


def reached(letter: Letter) -> int:
    """The count that a threshold signer's N is compared with."""
    return letter.verified_count if letter.domain_list else letter.signature_count


def reveal_due(letter_ids: Iterable[int], limit: int | None = None) -> int:
    """Show the names of up to ``limit`` counted signatures of ``letter_ids`` whose N the
    letter's count has reached. Call it inside the counter's transaction. Returns how many."""
    from undersigned.signatures.counting import journal

    limit = LIMIT if limit is None else limit
    shown = 0
    letters = Letter.objects.filter(pk__in=list(letter_ids), key_salt__gt="").only(
        "slug", "key_salt", "signature_count", "verified_count", "domains"
    )
    for letter in letters:
        if shown >= limit:
            break
        due = list(
            Signature.objects.counted()
            .filter(
                letter=letter,
                display=Signature.Display.THRESHOLD,
                threshold_sealed__isnull=False,
                public_after__lte=reached(letter),
            )
            .only(*_STANDING)
            .order_by("public_after")[: limit - shown]  # the index's order
        )
        changes = []
        for signature in due:
            changes += _show(letter, signature)
        if changes:
            journal(letter.pk, changes)
            shown += len(changes) // 2
            transaction.on_commit(partial(forget_cached, letter.slug))
    return shown


def reveal_waiting(limit: int | None = None) -> int:
    """The worker's sweep, under the counter's lock: letters that have waiting names whose N
    their count reached without a batch of the counter looking at them since (a signer chose
    `threshold` after the count passed their N; ``reconcile`` corrected a count)."""
    from undersigned.signatures.counting import _take_counter_lock

    with transaction.atomic():
        _take_counter_lock()
        waiting = (
            Signature.objects.filter(
                display=Signature.Display.THRESHOLD, threshold_sealed__isnull=False
            )
            .order_by()
            .values_list("letter_id", flat=True)
            .distinct()
        )
        return reveal_due(list(waiting), limit)


_STANDING = (
    "id",
    "letter_id",
    "display",
    "department",
    "verified_domain",
    "flag",
    "version",
    "public_after",
    "threshold_sealed",
)


def _show(letter: Letter, signature: Signature) -> list:
    """Make one waiting signature public; the journal's changes (none if it moved
    meanwhile: withdrawn, held, or its signer chose another display)."""
    from undersigned.signatures.counting import Change

    fields = opened(letter, signature)
    still = Signature.objects.counted().filter(
        pk=signature.pk,
        display=Signature.Display.THRESHOLD,
        public_after=signature.public_after,
    )
    if fields is None:
        # Cannot be opened (another secret, damage): it stays hidden, sealed to the
        # organizers, rather than wait for ever.
        log.warning("a threshold name on letter %s cannot be opened; kept hidden", letter.slug)
        still.update(display=Signature.Display.HIDDEN, threshold_sealed=None)
        return []
    if not still.update(
        display=Signature.Display.PUBLIC,
        name=fields.get("name", ""),
        affiliation=fields.get("affiliation", ""),
        comment=fields.get("comment", ""),
        # A forge account proven with the signature appears with the name.
        forge_username=fields.get("forge_account", "").rpartition("/")[2],
        forge_fingerprint=fields.get("forge_fingerprint", ""),
        sealed=None,
        threshold_sealed=None,
    ):
        return []
    after = Signature(
        display=Signature.Display.PUBLIC,
        department=signature.department,
        verified_domain=signature.verified_domain,
        flag=signature.flag,
        version=signature.version,
    )
    return [Change.of(signature, counted=-1), Change.of(after, counted=+1)]
