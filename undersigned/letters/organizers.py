"""The verbs of a letter's organizers: roles, invitations by a one-time link, leaving.

Roles nest (owner > editor > viewer, ``Organizer.Role``); a letter always keeps an owner. An
invitation is mailed to an address that is not kept: only the link's hash is."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from undersigned import events
from undersigned.letters.models import Invitation, Letter, Organizer
from undersigned.lib.tokens import new_token, token_hash

INVITATION_DAYS = 7


class TeamError(Exception):
    """A precondition failed; ``str(error)`` is a message for the person."""

    status = 409


def role_of(letter: Letter, user) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Organizer.objects.filter(letter=letter, user=user).values_list("role", flat=True).first()


def _owners(letter: Letter) -> int:
    return Organizer.objects.filter(letter=letter, role=Organizer.Role.OWNER).count()


def change(letter: Letter, roles=None, removed=(), *, actor=None, via: str) -> None:
    """Give the users in ``roles`` (user: role) their role (adding those who were not
    organizers), and remove those in ``removed``; refused if no owner would be left."""
    roles, removed = dict(roles or {}), list(removed)
    if not (roles or removed):
        return
    with transaction.atomic():
        Letter.objects.select_for_update().filter(pk=letter.pk).get()  # one change at a time
        before = dict(Organizer.objects.filter(letter=letter).values_list("user_id", "role"))
        added, changed = [], {}
        for user, role in roles.items():
            if role not in Organizer.Role.values:
                raise TeamError(f"{role!r} is not a role: owner, editor or viewer.")
            if user.pk not in before:
                added.append(user.get_username())
            elif before[user.pk] != role:
                changed[user.get_username()] = role
            Organizer.objects.update_or_create(letter=letter, user=user, defaults={"role": role})
        gone = [user for user in removed if user.pk in before]
        Organizer.objects.filter(letter=letter, user__in=gone).delete()
        if not _owners(letter):
            raise TeamError("A letter needs an owner: make someone else an owner first.")
        if added or gone or changed:
            events.record(
                "letter.organizers",
                letter=letter,
                actor=actor,
                via=via,
                added=sorted(added),
                removed=sorted(u.get_username() for u in gone),
                roles=changed,
            )


def invite(letter: Letter, email: str, role: str, *, actor=None, via: str) -> str:
    """Mail a one-time link to join the letter's organizers as ``role``; returns the link's
    token (shown to nobody but the mail's recipient)."""
    from undersigned.outbox import mail, quota

    if role not in Organizer.Role.values:
        raise TeamError(f"{role!r} is not a role: owner, editor or viewer.")
    token = new_token()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            letter=letter,
            role=role,
            token_hash=token_hash(token).hex(),
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
            invited_by=actor if getattr(actor, "pk", None) else None,
        )
        events.record(
            "letter.invited",
            letter=letter,
            actor=actor,
            via=via,
            invitation=invitation.pk,
            role=role,
        )
        if quota.allow([email])[0]:
            mail.send_invitation(email, letter, role, token, actor)
    return token


def invitation_for(token: str) -> Invitation | None:
    """The open invitation behind ``token`` (not used, not expired), or None."""
    return (
        Invitation.objects.select_related("letter")
        .filter(
            token_hash=token_hash(token).hex(),
            accepted_by__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )


def accept(token: str, user, *, via: str = "web") -> Letter:
    """Join the letter as the invitation says; the link works once."""
    with transaction.atomic():
        invitation = invitation_for(token)
        if invitation is None:
            raise TeamError(
                "This invitation is not valid: it was used, has expired or was mistyped."
            )
        taken = Invitation.objects.filter(pk=invitation.pk, accepted_by__isnull=True).update(
            accepted_by=user
        )
        if not taken:
            raise TeamError("This invitation was used already.")
        letter = invitation.letter
        current = role_of(letter, user)
        # Accepting an invitation for a lesser role never lowers one's role.
        role = invitation.role if current is None else _higher(current, invitation.role)
        if role != current:
            change(letter, roles={user: role}, actor=user, via=via)
    return letter


def _higher(a: str, b: str) -> str:
    return a if a in Organizer.Role.at_least(b) else b


def remove(letter: Letter, username: str, *, actor=None, via: str) -> None:
    user = get_user_model().objects.filter(username=username).first()
    if user is None or role_of(letter, user) is None:
        raise TeamError(f"{username!r} does not organize this letter.")
    change(letter, removed=[user], actor=actor, via=via)
