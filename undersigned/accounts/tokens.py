"""API tokens: for a script that acts for an organizer (``/api/v1/organize/``).

A token reads ``us_r_`` (read) or ``us_w_`` (read and write), eight hex digits that find its
row, then 43 random characters. It is shown once; the database keeps the lookup prefix and a
keyed hash of the whole token (HMAC-SHA256 under a key derived from the instance secret), so
a dump gives no usable token, and a token is compared in constant time. A token reaches one
letter or every letter its owner organizes, never more than its owner's role allows, and its
last use is kept to the hour."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from undersigned import events
from undersigned.accounts.models import ApiToken
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import derive_key, keyed_hash

PREFIXES = {"read": "us_r_", "write": "us_w_"}
PREFIX_LENGTH = 5 + 8


def _hash(token: str) -> str:
    return keyed_hash(derive_key(settings.SECRET_KEY, "api-token"), token).hex()


def _letters(user, letter) -> list:
    from undersigned.letters.models import Letter

    if letter is not None:
        return [letter]
    return list(Letter.objects.organized_by(user)) or [None]


def create(
    user,
    *,
    scope: str,
    letter=None,
    label: str = "",
    expires_days: int | None = None,
    actor=None,
    via: str,
) -> tuple[ApiToken, str]:
    """Make a token; returns its row and the token itself, which is never seen again."""
    if scope not in PREFIXES:
        raise ValueError(f"scope must be read or write, not {scope!r}")
    prefix = PREFIXES[scope] + secrets.token_hex(4)
    plain = prefix + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            letter=letter,
            scope=scope,
            label=label,
            prefix=prefix,
            token_hash=_hash(plain),
            expires_at=expires_at,
        )
        _record("token.created", token, actor, via)
    return token, plain


def revoke(token: ApiToken, *, actor=None, via: str) -> None:
    with transaction.atomic():
        if ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now()):
            _record("token.revoked", token, actor, via)


def _record(kind: str, token: ApiToken, actor, via: str) -> None:
    for letter in _letters(token.user, token.letter):
        events.record(
            kind,
            letter=letter,
            actor=actor,
            via=via,
            prefix=token.prefix,
            scope=token.scope,
            label=token.label,
            user=token.user.get_username(),
        )


def authenticate(plain: str) -> ApiToken | None:
    """The usable token that ``plain`` is, or None (unknown, mistyped, expired, revoked: the
    caller cannot tell which, nor can whoever sent it)."""
    if not plain.startswith(tuple(PREFIXES.values())) or len(plain) > 100:
        return None
    token = (
        ApiToken.objects.usable()
        .filter(prefix=plain[:PREFIX_LENGTH])
        .select_related("user", "letter")
        .first()
    )
    expected = token.token_hash if token is not None else "0" * 64
    matches = hmac.compare_digest(expected, _hash(plain))
    if token is None or not matches or not token.user.is_active:
        return None
    hour = this_hour()
    if token.last_used_at != hour:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=hour)
    return token
