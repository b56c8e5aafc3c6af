"""Threshold keys: seal a signer's name now so that the server can open it later, when enough
people have signed ("show my name once N have signed"), while a copy of the database taken
before holds nothing readable.

Each (scope, N) has its own X25519 key pair, derived on demand from the instance secret
(``UNDERSIGNED_SECRET_KEY``, kept outside the database) with HMAC-SHA256 under a purpose
label, the scope and N; neither half is ever stored. ``seal`` is ``lib.sealing.seal`` to the
public half (a random data key sealed in a libsodium sealed box, the fields padded to 128-byte
buckets); ``unseal`` derives the private half and opens it. So only a holder of the secret can
open a threshold box: the server (when the count reaches N), and whoever else has the secret.

A scope names what is counted and should change when its data is destroyed: a letter's is
``letter:<id>:<key salt>`` (``signatures.reveal.scope``), so that destroying the letter's salt
when its data is purged also makes its waiting names unreadable, even with the secret. Pledges
may use ``pledge:<id>:...`` the same way."""

from __future__ import annotations

import base64

from nacl.public import PrivateKey

from undersigned.lib import sealing
from undersigned.lib.tokens import derive_key

PURPOSE = "threshold-name"


class ThresholdError(sealing.SealingError):
    """A scope or N that cannot have a key, or a box that this (scope, N) cannot open."""


def _secret() -> str:
    from django.conf import settings

    return settings.SECRET_KEY


def private_key(scope: str, n: int, secret: str | None = None) -> bytes:
    """The raw X25519 private key of (``scope``, ``n``): never store it."""
    if not scope or "\0" in scope:
        raise ThresholdError("A threshold key needs a scope without NUL characters.")
    if type(n) is not int or n < 1:
        raise ThresholdError("A threshold is a whole number of at least 1.")
    return derive_key(secret or _secret(), PURPOSE, f"{scope}\0{n}".encode())


def public_key(scope: str, n: int, secret: str | None = None) -> str:
    """The base64 public key that names for (``scope``, ``n``) are sealed to."""
    raw = bytes(PrivateKey(private_key(scope, n, secret)).public_key)
    return base64.b64encode(raw).decode("ascii")


def seal(scope: str, n: int, fields: dict[str, str], secret: str | None = None) -> dict:
    """``fields`` sealed to the threshold key of (``scope``, ``n``), in ``sealing.seal``'s
    form (padded, so a name's length does not show)."""
    return sealing.seal(fields, [public_key(scope, n, secret)])


def unseal(scope: str, n: int, sealed: dict, secret: str | None = None) -> dict[str, str]:
    """The fields that ``seal`` sealed for (``scope``, ``n``); ``ThresholdError`` if this key
    cannot open them (another scope, another N, another secret, or damage)."""
    try:
        return sealing.unseal(sealed, private_key(scope, n, secret))
    except ThresholdError:
        raise
    except sealing.SealingError as exc:
        raise ThresholdError(str(exc)) from None
