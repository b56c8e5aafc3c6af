"""Encryption at rest for what a signer gives us, under a key that is not in the database.

SQLite's WAL and PostgreSQL's dead row versions and WAL segments keep old values for as long
as they like (VACUUM does not zero what it frees), so whatever must sit in the database for a
while (an address waiting for its mail, a name, a mail with private links) is written only
encrypted: XSalsa20-Poly1305 (libsodium's secret box) under a key derived from the instance
secret (UNDERSIGNED_SECRET_KEY), which stays out of the database and its backups. Whoever has
a copy of the database or its files but not the secret reads none of it.

Texts are padded to fixed buckets before encryption, so a ciphertext's length does not give
away the length of what it holds. The empty text stays empty (nothing to hide, no cost)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import cache

import nacl.exceptions
from django.conf import settings
from nacl.bindings import crypto_secretbox_open_easy
from nacl.secret import SecretBox

from undersigned.lib.tokens import derive_key

PREFIX = "us1:"  # marks a value written by ``lock`` (other values are read as they are)
BUCKET = 64  # padded lengths: 62, 126, 190, ... bytes of text (two bytes hold the length)


class VaultError(ValueError):
    """A value that was locked under another secret, or damaged."""


@cache
def _box(secret: str) -> SecretBox:
    return SecretBox(_vault_key(secret))


@cache
def _keyed_box(key: bytes) -> SecretBox:
    return SecretBox(key)


def _secret() -> str:
    return settings.SECRET_KEY


def pad(data: bytes, bucket: int = BUCKET) -> bytes:
    """``data`` with its length in front, padded with zeros to a multiple of ``bucket``."""
    if len(data) > 0xFFFF:
        raise ValueError("too long to pad")
    framed = len(data).to_bytes(2, "big") + data
    return framed + bytes(-len(framed) % bucket)


def unpad(padded: bytes) -> bytes:
    size = int.from_bytes(padded[:2], "big")
    if size > len(padded) - 2:
        raise VaultError("damaged padding")
    return padded[2 : 2 + size]


def lock(text: str, secret: str | None = None, key: bytes | None = None) -> str:
    """``text`` encrypted under the instance secret's vault key (or ``key``, e.g. one that
    also depends on a letter's salt, so that destroying the salt destroys the text)."""
    if not text:
        return ""
    box = _keyed_box(key) if key else _box(secret or _secret())
    sealed = box.encrypt(pad(text.encode("utf-8")))
    return PREFIX + base64.b64encode(sealed).decode("ascii")


def unlock(value: str, secret: str | None = None, key: bytes | None = None) -> str:
    return opener(secret, key)(value)


def opener(secret: str | None = None, key: bytes | None = None) -> Callable[[str], str]:
    """``unlock`` with its key found once, for reading many values (an export reads a million
    rows: looking up the secret and the box for each cost more than decrypting it)."""
    return _opener(key or _vault_key(secret or _secret()))


@cache
def _vault_key(secret: str) -> bytes:
    return derive_key(secret, "vault")


@cache
def _opener(key: bytes) -> Callable[[str], str]:
    nonce_size = SecretBox.NONCE_SIZE
    start = len(PREFIX)

    def unlock(value: str) -> str:
        if not value or not value.startswith(PREFIX):
            return value or ""
        try:
            raw = binascii.a2b_base64(value[start:], strict_mode=True)
            padded = crypto_secretbox_open_easy(raw[nonce_size:], raw[:nonce_size], key)
        except (binascii.Error, nacl.exceptions.CryptoError, ValueError):
            raise VaultError("this value was locked under another secret, or is damaged") from None
        return unpad(padded).decode("utf-8")

    return unlock
