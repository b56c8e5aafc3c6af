"""Organizer log-in, with attempts limited before any password is hashed.

A password check costs tens of milliseconds of CPU on purpose; without a limit a client could
guess forever (300 wrong passwords, then the right one, logged in) and a few clients at once
could starve every other request of CPU (8 parallel wrong log-ins slowed a cached count read
from 3 ms to 1 s). So, before the check:
- at most LOGIN_FAILURES_PER_ACCOUNT failures per account name in 15 minutes, and
  LOGIN_FAILURES_PER_CLIENT per client (the keyed hash of its network, never its address) in
  an hour; past either, the log-in is refused without a check, whatever the password, with the
  same page whether the account exists or not; at the MAIL_AFTER-th failure the account's
  owner is mailed;
- one password check at a time per process.
Counters are those of the rate limits (``moderation.limits``): shared through Redis with
``REDIS_URL``, per process otherwise."""

from __future__ import annotations

import threading

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction

from undersigned.moderation import limits
from undersigned.outbox import mail, quota
from undersigned.signatures.privacy import client_ip, ip_hash

LOGIN_FAILURES_PER_ACCOUNT = 10  # in 15 minutes
LOGIN_FAILURES_PER_CLIENT = 20  # in an hour
ACCOUNT_WINDOW, CLIENT_WINDOW = 15 * 60, 3600
MAIL_AFTER = 5  # failures of one account in its window: its owner is told, once
_checking = threading.BoundedSemaphore(1)

TOO_MANY = (
    "Too many failed log-ins for this account or from this network. Wait a quarter of an "
    "hour and try again; if you forgot your password, reset it (the link below)."
)
BUSY = "The site is busy checking other log-ins. Try again in a few seconds."


class LimitedAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip().lower()
        client = ip_hash(client_ip(self.request))[0] if self.request else ""
        keys = [
            (f"login-account:{username}", LOGIN_FAILURES_PER_ACCOUNT, ACCOUNT_WINDOW),
            (f"login-client:{client}", LOGIN_FAILURES_PER_CLIENT, CLIENT_WINDOW),
        ]
        if any(limits.count(key, seconds) >= limit for key, limit, seconds in keys):
            raise ValidationError(TOO_MANY, code="too_many")
        if not _checking.acquire(timeout=10):
            raise ValidationError(BUSY, code="busy")
        try:
            return super().clean()
        except ValidationError:
            failures = [limits.count(key, seconds, add=1) for key, _, seconds in keys][0]
            if failures == MAIL_AFTER:
                _tell_owner(username, failures)
            raise
        finally:
            _checking.release()


def _tell_owner(username: str, failures: int) -> None:
    """Mail the account's owner (if there is such an account: the page says the same either
    way) that someone is failing to log in as them."""
    user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
    # A stranger sets this mail off: it counts against the address's hourly cap, as every
    # such mail does (one per window of failures would otherwise be four an hour).
    if user is not None and user.email and quota.allow([user.email])[0]:
        with transaction.atomic():
            mail.send_login_failures(user.email, user, failures)


class LoginView(auth_views.LoginView):
    form_class = LimitedAuthenticationForm
