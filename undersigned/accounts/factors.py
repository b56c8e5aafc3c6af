"""Second factors: an authenticator app (TOTP, RFC 6238, computed by ``pyotp``), passkeys
(WebAuthn, ``accounts/passkeys.py``) and one-time recovery codes; and what the session says
about them.

A log-in is two steps. The password logs the user in (Django's session), but a session that
has not also shown a second factor is *unverified*: ``SecondFactorMiddleware`` sends it from
every organizer, account and admin page to the second step (``/accounts/verify/``), or, for
an account that has no factor yet while the instance requires one
(``UNDERSIGNED_REQUIRE_SECOND_FACTOR``, on by default), to setting one up. An account that has
a factor always needs it, whatever the setting: a factor that could be skipped guards nothing.

Sensitive acts (exports, keys, the team, mailing subscribers, changing a factor, API tokens)
also need a *recent* authentication: the password and a factor, or a factor alone, within the
last ``REAUTH_SECONDS``; ``recent_auth_required`` asks for it again when it is older.

The session keeps the verified user's id and the time of the last authentication, nothing of
the factor itself."""

from __future__ import annotations

import secrets
import time
from functools import wraps
from urllib.parse import quote, urlsplit

import pyotp
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from undersigned import events
from undersigned.accounts import sessions
from undersigned.accounts.models import Passkey, RecoveryCode, TotpDevice
from undersigned.lib.tokens import derive_key, keyed_hash
from undersigned.moderation import limits

VERIFIED, AUTH_AT = "us_factor_user", "us_auth_at"
REAUTH_SECONDS = 5 * 60
RECOVERY_CODES = 10
CODE_ATTEMPTS, CODE_WINDOW = 5, 15 * 60  # wrong codes per account before a pause
ISSUER = "Undersigned"


# --- the session -------------------------------------------------------------------------------


def has_factor(user) -> bool:
    return (
        TotpDevice.objects.filter(user=user, confirmed=True).exists()
        or Passkey.objects.filter(user=user).exists()
    )


def needs_factor(user) -> bool:
    return settings.REQUIRE_SECOND_FACTOR or has_factor(user)


def mark_session(session, user) -> None:
    """What a correct second factor does to a session: it is verified for ``user``, and its
    last authentication is now."""
    session[VERIFIED] = user.pk
    session[AUTH_AT] = int(time.time())


def mark_verified(request) -> None:
    """A second factor was shown: a new session key (a key seen before the step is worthless
    after it), verified and freshly authenticated."""
    old = request.session.session_key
    request.session.cycle_key()
    sessions.moved(old, request.session.session_key)
    mark_session(request.session, request.user)


def is_verified(request) -> bool:
    return request.session.get(VERIFIED) == request.user.pk


def passes(request) -> bool:
    """May this session reach organizer pages?"""
    return is_verified(request) or not needs_factor(request.user)


def is_recent(request) -> bool:
    return passes(request) and time.time() - request.session.get(AUTH_AT, 0) < REAUTH_SECONDS


def ask_again(request):
    """Send the user to confirm it is them, and back to where they were (for a POST, the page
    its form was on: the act is done again by its own button)."""
    target = request.get_full_path()
    if request.method != "GET":
        referer = request.headers.get("referer", "")
        path = urlsplit(referer).path if referer else ""
        if path and url_has_allowed_host_and_scheme(referer, {request.get_host()}):
            target = path
        else:
            target = reverse("organize:dashboard")
    messages.info(
        request,
        "Confirm that it is you first (it lasts a few minutes), then do it again.",
    )
    return redirect(f"{reverse('accounts:confirm')}?next={quote(target)}")


def recent_auth_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_recent(request):
            return ask_again(request)
        return view(request, *args, **kwargs)

    return wrapper


# --- codes ---------------------------------------------------------------------------------------


class CodeRefused(ValueError):
    pass


TOO_MANY_CODES = "Too many wrong codes for this account. Wait a quarter of an hour."


def check_code(user, code: str) -> str:
    """Accept a TOTP code or an unused recovery code for ``user``; returns which it was.
    Raises ``CodeRefused`` for anything else, and for every code after too many wrong ones."""
    code = "".join(code.split()).lower()
    key = f"factor-code:{user.pk}"
    if limits.count(key, CODE_WINDOW) >= CODE_ATTEMPTS:
        raise CodeRefused(TOO_MANY_CODES)
    if code.isdigit() and len(code) == 6 and _use_totp(user, code):
        return "totp"
    if _use_recovery_code(user, code):
        return "recovery"
    limits.count(key, CODE_WINDOW, add=1)
    raise CodeRefused("That code is not right (or was used already). Try the next one.")


def refuse_password(user) -> None:
    """A wrong password when confirming it is you counts as a wrong code: the same pause."""
    limits.count(f"factor-code:{user.pk}", CODE_WINDOW, add=1)


def paused(user) -> bool:
    return limits.count(f"factor-code:{user.pk}", CODE_WINDOW) >= CODE_ATTEMPTS


def totp_for(device: TotpDevice) -> pyotp.TOTP:
    return pyotp.TOTP(device.secret)


def _use_totp(user, code: str) -> bool:
    device = TotpDevice.objects.filter(user=user, confirmed=True).first()
    return device is not None and use_totp_code(device, code)


def use_totp_code(device: TotpDevice, code: str) -> bool:
    """Accept ``code`` for the current 30-second step or one step either side (clocks drift),
    once: the step is recorded, and a code of that step or an earlier one is refused after."""
    totp, now = totp_for(device), time.time()
    for offset in (0, -1, 1):
        moment = now + offset * totp.interval
        if totp.verify(code, for_time=moment):  # compares in constant time
            step = int(moment // totp.interval)
            used = TotpDevice.objects.filter(pk=device.pk, last_step__lt=step)
            return used.update(last_step=step) == 1
    return False


def _code_hash(user, code: str) -> str:
    return keyed_hash(derive_key(settings.SECRET_KEY, "recovery-code"), f"{user.pk}:{code}").hex()


def _use_recovery_code(user, code: str) -> bool:
    found = RecoveryCode.objects.filter(user=user, code_hash=_code_hash(user, code), used_at=None)
    return found.update(used_at=timezone.now()) == 1


def new_recovery_codes(user, *, via: str = "web") -> list[str]:
    """Replace the user's recovery codes; returns the new ones, which are shown once."""
    codes = [
        "-".join(secrets.token_hex(2) for _ in range(3)) for _ in range(RECOVERY_CODES)
    ]  # 48 bits each, e.g. 3f2a-9c01-77be
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_code_hash(user, code)) for code in codes
        )
        events.record("account.recovery_codes", actor=user, via=via, user=user.get_username())
    return codes


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at=None).count()


# --- the authenticator app ---------------------------------------------------------------------


def start_totp(user) -> TotpDevice:
    """The user's secret: an unconfirmed one is kept until its first code turns it on (the
    set-up page shows the same key on each visit)."""
    device = TotpDevice.objects.filter(user=user).first()
    if device is None:
        device = TotpDevice.objects.create(user=user, secret=pyotp.random_base32())
    return device


def provisioning_uri(device: TotpDevice) -> str:
    return totp_for(device).provisioning_uri(name=device.user.get_username(), issuer_name=ISSUER)


def confirm_totp(device: TotpDevice, code: str, *, via: str = "web") -> bool:
    """The first correct code turns the secret on."""
    if not use_totp_code(device, "".join(code.split())):
        return False
    with transaction.atomic():
        TotpDevice.objects.filter(pk=device.pk).update(confirmed=True)
        events.record(
            "account.factor_added",
            actor=device.user,
            via=via,
            user=device.user.get_username(),
            factor="authenticator app",
        )
    return True


def remove_totp(request, *, via: str = "web") -> None:
    """Remove the app. If the instance requires a factor and none is left, the session is no
    longer verified: the next organizer page leads to setting one up."""
    user = request.user
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        events.record(
            "account.factor_removed",
            actor=user,
            via=via,
            user=user.get_username(),
            factor="authenticator app",
        )
    if not has_factor(user):
        request.session.pop(VERIFIED, None)
