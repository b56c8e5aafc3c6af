"""Passkeys (WebAuthn), checked by ``webauthn`` (py_webauthn, Duo Labs): as a second factor,
and, once registered, as a way to sign in without the password.

Each ceremony is two POSTs from ``static/accounts/passkeys.js``: the first returns the
options (a fresh challenge kept in the session), the second the browser's answer, which
``webauthn`` checks against that challenge, the instance's origin and relying-party id (the
host of ``UNDERSIGNED_BASE_URL``) and, to sign in, the stored public key and signature
counter. A passkey never holds a secret of ours: the database keeps its id and public key.

Passkeys need JavaScript; the authenticator app works without it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import login
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.http import require_POST
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from undersigned import events
from undersigned.accounts import factors
from undersigned.accounts.models import Passkey

CHALLENGE = "us_webauthn_challenge"
REFUSED = "The passkey was not accepted. Try again, or use your authenticator app."


def _rp() -> tuple[str, str]:
    base = urlsplit(settings.BASE_URL)
    return str(base.hostname), f"{base.scheme}://{base.netloc}"


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _answer(request) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _challenge(request) -> bytes | None:
    value = request.session.pop(CHALLENGE, None)
    return base64url_to_bytes(value) if value else None


def _may_register(request) -> str:
    if not request.user.is_authenticated:
        return "Log in first."
    if not (factors.is_verified(request) or not factors.has_factor(request.user)):
        return "Show your second factor first."
    if factors.has_factor(request.user) and not factors.is_recent(request):
        return "Confirm that it is you first (Your account, then Add a passkey)."
    return ""


@require_POST
def register_options(request):
    refused = _may_register(request)
    if refused:
        return _error(refused, 403)
    rp_id, _ = _rp()
    user = request.user
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="Undersigned",
        user_name=user.get_username(),
        user_id=str(user.pk).encode(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in Passkey.objects.filter(user=user)
        ],
    )
    request.session[CHALLENGE] = bytes_to_base64url(options.challenge)
    return JsonResponse(json.loads(options_to_json(options)))


@require_POST
def register(request):
    refused = _may_register(request)
    if refused:
        return _error(refused, 403)
    answer, challenge = _answer(request), _challenge(request)
    if answer is None or challenge is None:
        return _error("Start again: the page asked for no passkey, or asked long ago.")
    rp_id, origin = _rp()
    try:
        verified = verify_registration_response(
            credential=answer.get("credential") or {},
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError):
        return _error(REFUSED)
    first = not factors.has_factor(request.user)
    label = str(answer.get("label") or "")[:100] or "passkey"
    with transaction.atomic():
        Passkey.objects.create(
            user=request.user,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            label=label,
        )
        events.record(
            "account.factor_added",
            actor=request.user,
            via="web",
            user=request.user.get_username(),
            factor="passkey",
        )
    factors.mark_verified(request)
    codes = factors.new_recovery_codes(request.user) if first else []
    return JsonResponse({"added": label, "codes": codes}, status=201)


@require_POST
def login_options(request):
    """To sign in (no one logged in: any passkey of this site) or as the second step (the
    logged-in user's passkeys)."""
    rp_id, _ = _rp()
    allowed = []
    if request.user.is_authenticated:
        allowed = [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in Passkey.objects.filter(user=request.user)
        ]
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED
        if not request.user.is_authenticated
        else UserVerificationRequirement.PREFERRED,
    )
    request.session[CHALLENGE] = bytes_to_base64url(options.challenge)
    return JsonResponse(json.loads(options_to_json(options)))


@require_POST
def sign_in(request):
    answer, challenge = _answer(request), _challenge(request)
    if answer is None or challenge is None:
        return _error("Start again: the page asked for no passkey, or asked long ago.")
    credential = answer.get("credential") or {}
    raw_id = credential.get("rawId") or credential.get("id") if isinstance(credential, dict) else ""
    passkey = Passkey.objects.filter(credential_id=str(raw_id or "")).select_related("user").first()
    signing_in = not request.user.is_authenticated
    if passkey is None or not passkey.user.is_active:
        return _error(REFUSED)
    if not signing_in and passkey.user != request.user:
        return _error(REFUSED)
    rp_id, origin = _rp()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=signing_in,  # no password: the device checked its user
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return _error(REFUSED)
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count)
    if signing_in:
        login(request, passkey.user, backend="django.contrib.auth.backends.ModelBackend")
    factors.mark_verified(request)
    from undersigned.accounts.views import safe_next

    return JsonResponse({"next": safe_next(request, str(answer.get("next") or ""))})
