"""The letter's verbs: create, edit, publish, close, reopen, pause, resume, export.

Organizer pages, the admin, the API and the command line call these and only translate a
``LetterError`` into their own kind of answer. Each verb checks its precondition, changes
the rows and records its event (``undersigned.events``) in one transaction; the event drops
what the caches hold about the letter once that transaction commits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from undersigned import events
from undersigned.letters.models import Letter, SlugRedirect, Version
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


def edit(
    letter: Letter,
    fields: Iterable[str],
    *,
    actor=None,
    via: str,
    corrections_only: bool = False,
) -> Letter:
    """Save the fields named in ``fields``, which the caller has set on ``letter`` (from a
    validated form). A published letter's text (title, addressee, body) changes only as a new
    version (``revise``): what people signed stays what they signed. A new slug keeps the old
    address working. Nothing changed: nothing is saved or recorded."""
    fields = [name for name in fields if name not in _NOT_EDITED]
    if not fields:
        return letter
    with transaction.atomic():
        old = (
            Letter.objects.select_for_update()
            .filter(pk=letter.pk)
            .values(*{*TEXT, *fields, "slug"})
            .get()
        )
        fields = [name for name in fields if not _same(name, getattr(letter, name), old[name])]
        if not fields:
            return letter
        text = [name for name in TEXT if name in fields]
        others = [name for name in fields if name not in TEXT]
        letter.updated_at = timezone.now()
        letter.save(update_fields=[*fields, "updated_at"])
        edited = others if letter.is_published else others + text
        if edited:
            events.record(
                "letter.edited", letter=letter, actor=actor, via=via, fields=sorted(edited)
            )
        if text and letter.is_published:
            _new_version(letter, corrections_only, actor, via)
        if old["slug"] != letter.slug:
            SlugRedirect.objects.filter(slug=letter.slug).delete()  # the letter's own again
            if letter.is_published:
                SlugRedirect.objects.update_or_create(slug=old["slug"], defaults={"letter": letter})
            events.forget(old["slug"])
    return letter


def _same(name: str, new, old) -> bool:
    """Whether a field keeps its value; for the text, whitespace at its ends is no change (a
    browser's form sends the body back without the final newline)."""
    if name in TEXT:
        return (new or "").replace("\r\n", "\n").strip() == (old or "").strip()
    return new == old


def revise(
    letter: Letter,
    *,
    title: str | None = None,
    body: str | None = None,
    addressed_to: str | None = None,
    corrections_only: bool = False,
    actor=None,
    via: str,
) -> Version:
    """Publish a new version of a published letter's text; the old ones stay as they were,
    with the signatures given for them. Raises ``LetterError`` if the letter is a draft or
    nothing in the text changes."""
    if not letter.is_published:
        raise LetterError("A draft has no versions yet: edit it, then publish it.")
    changes = {
        name: value
        for name, value in (("title", title), ("body", body), ("addressed_to", addressed_to))
        if value is not None and not _same(name, value, getattr(letter, name))
    }
    if not changes:
        raise LetterError("The new text is the same as the current version's.")
    for name, value in changes.items():
        setattr(letter, name, value)
    edit(letter, list(changes), actor=actor, via=via, corrections_only=corrections_only)
    return letter.versions.get(number=letter.version)


def _new_version(letter: Letter, corrections_only: bool, actor, via: str) -> Version:
    number = (letter.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = Version(
        letter=letter,
        number=number,
        title=letter.title,
        addressed_to=letter.addressed_to,
        body=letter.body,
        corrections_only=corrections_only,
    )
    version.save()
    Letter.objects.filter(pk=letter.pk).update(version=number)
    letter.version = number
    if number > 1:
        events.record(
            "letter.revised",
            letter=letter,
            actor=actor,
            via=via,
            number=number,
            corrections_only=corrections_only,
        )
    return version


# What signers sign: a published letter's text changes only as a new version.
TEXT = ("title", "addressed_to", "body")
# Fields that only their own verbs change.
_NOT_EDITED = frozenset(
    {
        "status",
        "signing_paused",
        "published_at",
        "closed_at",
        "key_salt",
        "key_destroyed_at",
        "version",
    }
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
    _saved(letter, locked, ["status", "published_at", "closed_at", "updated_at", "version"])
    return letter


def _publish(letter: Letter, actor, via: str) -> None:
    now = timezone.now()
    letter.status = Letter.Status.OPEN
    letter.published_at = letter.published_at or now
    letter.closed_at = None
    letter.updated_at = now
    letter.save(update_fields=["status", "published_at", "closed_at", "updated_at"])
    _new_version(letter, False, actor, via)
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
        from undersigned.subscriptions.services import forget_letter

        forget_letter(letter)
        events.record("letter.key_destroyed", letter=letter, via="worker")
    letter.refresh_from_db(fields=["key_salt", "key_destroyed_at"])
