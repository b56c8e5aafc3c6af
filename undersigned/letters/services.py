"""The letter's verbs: create, edit, publish, close, reopen, pause, resume, export.

Organizer pages, the admin, the API and the command line call these and only translate a
``LetterError`` into their own kind of answer. Each verb checks its precondition, changes
the rows and records its event (``undersigned.events``) in one transaction; the event drops
what the caches hold about the letter once that transaction commits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from undersigned import events
from undersigned.letters.models import Letter
from undersigned.moderation.models import Policy

DEFAULT_PAUSE_MESSAGE = "Signing is paused for a short while. Please come back later."


class LetterError(Exception):
    """A precondition failed; ``str(error)`` is a message for the person."""

    status = 409


def _fresh(letter: Letter) -> Letter:
    """The letter's row, locked for the rest of the transaction, so that two acts at once
    (two organizers, an organizer and the deadline) see each other's result."""
    return Letter.objects.select_for_update().get(pk=letter.pk)


def _saved(letter: Letter, locked: Letter, fields: list[str]) -> None:
    for name in fields:
        setattr(letter, name, getattr(locked, name))


def create(
    letter: Letter, organizers: Iterable = (), *, actor=None, via: str, publish: bool = False
) -> Letter:
    """Save a new letter (an unsaved instance with validated fields) as a draft, with its
    organizers; published at once if ``publish``."""
    with transaction.atomic():
        letter.status = Letter.Status.DRAFT
        letter.save()
        letter.organizers.add(*organizers)
        events.record("letter.created", letter=letter, actor=actor, via=via)
        if publish:
            _publish(letter, actor, via)
    return letter


def edit(letter: Letter, fields: Iterable[str], *, actor=None, via: str) -> Letter:
    """Save the fields named in ``fields``, which the caller has set on ``letter`` (from a
    validated form). Nothing changed: nothing is saved or recorded."""
    fields = [name for name in fields if name not in _NOT_EDITED]
    if not fields:
        return letter
    with transaction.atomic():
        old_slug = Letter.objects.filter(pk=letter.pk).values_list("slug", flat=True).get()
        letter.updated_at = timezone.now()
        letter.save(update_fields=[*fields, "updated_at"])
        events.record("letter.edited", letter=letter, actor=actor, via=via, fields=sorted(fields))
        if old_slug != letter.slug:
            events.forget(old_slug)
    return letter


# Fields that only their own verbs change.
_NOT_EDITED = frozenset(
    {"status", "signing_paused", "published_at", "closed_at", "key_salt", "key_destroyed_at"}
)


def change_organizers(letter: Letter, added=(), removed=(), *, actor=None, via: str) -> None:
    added, removed = list(added), list(removed)
    if not (added or removed):
        return
    with transaction.atomic():
        letter.organizers.add(*added)
        letter.organizers.remove(*removed)
        events.record(
            "letter.organizers",
            letter=letter,
            actor=actor,
            via=via,
            added=sorted(u.get_username() for u in added),
            removed=sorted(u.get_username() for u in removed),
        )


def publish(letter: Letter, *, actor=None, via: str) -> Letter:
    """Open a draft for signatures."""
    with transaction.atomic():
        locked = _fresh(letter)
        if locked.status != Letter.Status.DRAFT:
            raise LetterError(
                "This letter is published already."
                if locked.status == Letter.Status.OPEN
                else "This letter was published and closed; reopen it instead."
            )
        _publish(locked, actor, via)
    _saved(letter, locked, ["status", "published_at", "closed_at", "updated_at"])
    return letter


def _publish(letter: Letter, actor, via: str) -> None:
    now = timezone.now()
    letter.status = Letter.Status.OPEN
    letter.published_at = letter.published_at or now
    letter.closed_at = None
    letter.updated_at = now
    letter.save(update_fields=["status", "published_at", "closed_at", "updated_at"])
    events.record("letter.published", letter=letter, actor=actor, via=via)


def close(letter: Letter, *, actor=None, via: str) -> Letter:
    with transaction.atomic():
        locked = _fresh(letter)
        if locked.status != Letter.Status.OPEN:
            raise LetterError("Only an open letter can be closed.")
        now = timezone.now()
        locked.status, locked.closed_at, locked.updated_at = Letter.Status.CLOSED, now, now
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        events.record("letter.closed", letter=locked, actor=actor, via=via)
    _saved(letter, locked, ["status", "closed_at", "updated_at"])
    return letter


def reopen(letter: Letter, *, actor=None, via: str) -> Letter:
    """Open a closed letter again. Not once its hashing key is destroyed: without it no new
    signature can be told from an earlier one by the same address."""
    with transaction.atomic():
        locked = _fresh(letter)
        if locked.status != Letter.Status.CLOSED:
            raise LetterError("Only a closed letter can be reopened.")
        if not locked.key_salt:
            raise LetterError(
                "This letter's data was purged after it closed (its hashing key is destroyed), "
                "so it cannot take signatures again. Start a new letter instead."
            )
        now = timezone.now()
        locked.status, locked.closed_at, locked.updated_at = Letter.Status.OPEN, None, now
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        events.record("letter.reopened", letter=locked, actor=actor, via=via)
    _saved(letter, locked, ["status", "closed_at", "updated_at"])
    return letter


def pause(letter: Letter, message: str = "", *, actor=None, via: str) -> Letter:
    """The letter's kill switch: its form gives way to ``message`` (or the one it had)."""
    with transaction.atomic():
        locked = _fresh(letter)
        locked.signing_paused = True
        locked.pause_message = message or locked.pause_message
        locked.save(update_fields=["signing_paused", "pause_message"])
        events.record(
            "letter.paused", letter=locked, actor=actor, via=via, message=locked.pause_message
        )
    _saved(letter, locked, ["signing_paused", "pause_message"])
    return letter


def resume(letter: Letter, *, actor=None, via: str) -> Letter:
    with transaction.atomic():
        locked = _fresh(letter)
        if not locked.signing_paused:
            raise LetterError("Signing on this letter is not paused.")
        locked.signing_paused = False
        locked.save(update_fields=["signing_paused"])
        events.record("letter.resumed", letter=locked, actor=actor, via=via)
    _saved(letter, locked, ["signing_paused"])
    return letter


def pause_message(letter: Letter) -> str:
    """Why the letter takes no signatures right now because of a kill switch (the instance's
    first, then the letter's), or "" when neither is on."""
    policy = Policy.current()
    if policy.signing_paused:
        return policy.pause_message or DEFAULT_PAUSE_MESSAGE
    if letter.signing_paused:
        return letter.pause_message or DEFAULT_PAUSE_MESSAGE
    return ""


def export(
    letter: Letter, fmt: str, private_key: bytes | None = None, *, actor=None, via: str
) -> Iterator[str]:
    """The letter's confirmed signatures as ``fmt`` (streamed); the export is recorded."""
    from undersigned.signatures import export as exports

    if fmt not in exports.FORMATS:
        raise LetterError(f"Unknown export format {fmt!r}; use csv or json.")
    with transaction.atomic():
        events.record("letter.exported", letter=letter, actor=actor, via=via, format=fmt)
    return exports.export(letter, fmt, private_key)


def destroy_key(letter: Letter) -> None:
    """Make this letter's email hashes impossible to recompute, even with the secret (the
    purge does this N days after a letter closes)."""
    with transaction.atomic():
        Letter.objects.filter(pk=letter.pk).update(key_salt="", key_destroyed_at=timezone.now())
        events.record("letter.key_destroyed", letter=letter, via="worker")
    letter.refresh_from_db(fields=["key_salt", "key_destroyed_at"])
