"""The sessions an organizer is logged in with: listed on their account page, ended all at
once by "sign out everywhere" (after a lost laptop, or a password that was seen)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import receiver

from undersigned.accounts.models import UserSession
from undersigned.lib.times import this_hour


def track(request, user) -> None:
    key = request.session.session_key
    if not key:
        return
    agent = request.headers.get("user-agent", "")[:200] if hasattr(request, "headers") else ""
    UserSession.objects.update_or_create(
        session_key=key, defaults={"user": user, "started_at": this_hour(), "user_agent": agent}
    )


def moved(old_key: str | None, new_key: str | None) -> None:
    """The session's key changed (a second factor was shown): its row follows."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def for_user(user) -> list[UserSession]:
    live = Session.objects.filter(
        session_key__in=UserSession.objects.filter(user=user).values("session_key")
    ).values_list("session_key", flat=True)
    return list(UserSession.objects.filter(user=user, session_key__in=list(live)).order_by("-id"))


def end_all(user, keep: str | None = None) -> int:
    """End every session of ``user`` (but ``keep``); returns how many."""
    with transaction.atomic():
        rows = UserSession.objects.filter(user=user).exclude(session_key=keep or "")
        keys = list(rows.values_list("session_key", flat=True))
        Session.objects.filter(session_key__in=keys).delete()
        rows.delete()
    return len(keys)


@receiver(user_logged_in, dispatch_uid="undersigned-track-session")
def _logged_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        track(request, user)


@receiver(user_logged_out, dispatch_uid="undersigned-untrack-session")
def _logged_out(sender, request, user, **kwargs):
    if request is not None and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).delete()
