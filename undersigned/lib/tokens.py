"""Opaque tokens for links in mail: random, stored only as a hash, compared by hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32  # 256 random bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """SHA-256 suffices: the token has 256 bits of entropy, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def keyed_hash(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def derive_key(secret: str, purpose: str, salt: bytes = b"") -> bytes:
    """A key for one purpose (and one letter, via ``salt``) from the instance secret."""
    return hmac.new(secret.encode(), purpose.encode() + b"\0" + salt, hashlib.sha256).digest()
