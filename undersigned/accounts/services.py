"""Organizers' sealing keys: adding one and removing one are events of every letter the
organizer organizes (a stolen account could add a key of its own and read every hidden name
signed from then on, so each of those letters' organizers is told by mail). A key added to
one of the instance's tip recipients is mailed to every operator, for the same reason."""

from __future__ import annotations

from django.db import transaction

from undersigned import events
from undersigned.accounts.models import OrganizerKey


def _letters(user) -> list:
    from undersigned.letters.models import Letter

    return list(Letter.objects.organized_by(user)) or [None]


def add_key(user, public_key: str, label: str = "", *, actor=None, via: str) -> OrganizerKey:
    """Register ``public_key`` for ``user``. Raises ``SealingError`` for a key that cannot
    receive seals and ``IntegrityError`` for one registered already."""
    with transaction.atomic():
        key = OrganizerKey.objects.register(user, public_key, label)
        for letter in _letters(user):
            events.record(
                "key.added",
                letter=letter,
                actor=actor,
                via=via,
                key_id=key.key_id,
                user=user.get_username(),
            )
        if _receives_instance_tips(user):  # their keys read every tip sent to /tips/
            events.record(
                "tips.recipient_key_added",
                actor=actor,
                via=via,
                key_id=key.key_id,
                user=user.get_username(),
            )
    return key


def _receives_instance_tips(user) -> bool:
    from undersigned.tips.models import Recipient

    return Recipient.objects.filter(user=user).exists()


def remove_key(key: OrganizerKey, *, actor=None, via: str) -> None:
    with transaction.atomic():
        for letter in _letters(key.user):
            events.record(
                "key.removed",
                letter=letter,
                actor=actor,
                via=via,
                key_id=key.key_id,
                user=key.user.get_username(),
            )
        key.delete()
