"""Codenames for the tip line: seven random words from the EFF long word list (7,776 words,
12.9 bits each: 90 bits in all), drawn with ``secrets``.

The server never keeps a codename. ``derive`` stretches it with Argon2id, salted and keyed
with a pepper derived from the instance secret (which is not in the database), into:
- a lookup hash that finds the conversation (deterministic, so the server can find it; slow
  and peppered, so a copy of the database cannot test guesses without the secret, and with it
  at 0.1 s a guess against 2^90 codenames);
- an X25519 key pair whose public half is stored: replies are sealed to it, so only whoever
  holds the codename can read them.

The word list ships inside the ``xkcdpass`` package; it is read from there, not copied."""

from __future__ import annotations

import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import nacl.encoding
import nacl.hash
import nacl.pwhash.argon2id as argon2id
from nacl.public import PrivateKey

WORDS = 7
# About 0.1 s and 64 MiB on the machines we measured (2-core AMD EPYC): slow enough that a
# copy of the database with the secret still cannot be searched, cheap enough for a request.
OPSLIMIT = 4
MEMLIMIT = 64 * 2**20
_one_at_a_time = threading.BoundedSemaphore(1)  # 64 MiB each: one derivation per process


class CodenameError(ValueError):
    """Not a codename of ours; the message says what is wrong with it (never whether one
    like it exists)."""


@cache
def word_list() -> tuple[str, ...]:
    text = (resources.files("xkcdpass") / "static" / "eff-long").read_text("utf-8")
    words = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(words) != 7776 or len(set(words)) != 7776:
        raise RuntimeError(f"the EFF long word list has {len(words)} words, not 7,776")
    return words


@cache
def _known() -> frozenset[str]:
    return frozenset(word_list())


def new_codename() -> str:
    words = word_list()
    return " ".join(secrets.choice(words) for _ in range(WORDS))


_SEPARATORS = re.compile(r"[^a-z-]+")


def normalize(text: str) -> str:
    """The codename as the words alone, lower-cased, one space apart: what a person types
    with capitals, extra spaces, commas or line breaks is the same codename."""
    if not isinstance(text, str):
        raise CodenameError("A codename is text: seven words.")
    folded = unicodedata.normalize("NFKC", text).lower()
    words = [word for word in _SEPARATORS.split(folded) if word]
    if len(words) != WORDS:
        raise CodenameError(
            f"A codename is {WORDS} words separated by spaces; this has {len(words)}."
        )
    unknown = [word for word in words if word not in _known()]
    if unknown:
        raise CodenameError(
            f"{', '.join(repr(w[:30]) for w in unknown[:3])} "
            f"{'is not a word' if len(unknown) == 1 else 'are not words'} of our list: check "
            "the spelling against the codename you wrote down."
        )
    return " ".join(words)


@dataclass(frozen=True)
class Derived:
    lookup: str  # hex; finds the conversation
    reply_private: bytes = b""  # raw X25519 private key that opens the replies
    reply_public: bytes = b""

    def __repr__(self) -> str:  # never print a private key into a log or a traceback
        return f"Derived(lookup={self.lookup[:8]}...)"


def derive(codename: str, pepper: bytes) -> Derived:
    """The lookup hash and the reply key pair of ``codename`` (normalized first). ``pepper``
    is a 32-byte key derived from the instance secret."""
    words = normalize(codename).encode("utf-8")
    with _one_at_a_time:
        stretched = argon2id.kdf(
            64, words, pepper[: argon2id.SALTBYTES], opslimit=OPSLIMIT, memlimit=MEMLIMIT
        )
    lookup = _keyed(stretched, pepper, b"tip-lookup").hex()
    private = PrivateKey(_keyed(stretched, pepper, b"tip-reply-key"))
    return Derived(lookup, bytes(private), bytes(private.public_key))


def _keyed(data: bytes, key: bytes, person: bytes) -> bytes:
    return nacl.hash.blake2b(
        data, digest_size=32, key=key, person=person, encoder=nacl.encoding.RawEncoder
    )
