"""Sealed tips: what a source sends (or a recipient replies) is encrypted in the request, as
it arrives, so that no plaintext is ever written anywhere.

Each message has a random 32-byte data key, sealed once per recipient (``sealing.seal_key``:
libsodium sealed boxes to their X25519 public keys, as for hidden names). From it, two
subkeys (BLAKE2b, keyed): one for the message's text, in a ``SecretBox``, one for its files,
each a libsodium secretstream (XChaCha20-Poly1305) that encrypts an upload block by block as
the request brings it in, so that only one block of a file is ever in memory as plaintext.

Lengths are hidden: a text is padded to at least 1 KiB, a file to at least one 16 KiB block,
and both beyond that with Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted
Files and Communication with PURBs", 2019): a padded length leaks O(log log n) bits of the
true one, at most 12 % longer. Everything is standard base64 text or raw bytes."""

from __future__ import annotations

import base64
import binascii
import json

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.utils
from nacl import bindings as sodium
from nacl.secret import SecretBox

from undersigned.lib import sealing

VERSION = 1
KEY_BYTES = 32
TEXT_MINIMUM = 1024
BLOCK = 16 * 1024
_HEADER = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_TRAILER = 8  # the true length, at the end of the last block


class TipBoxError(sealing.SealingError):
    """Sealed tip data that cannot be opened with this key, or is damaged."""


def padme(length: int) -> int:
    """Padmé: ``length`` rounded up so that only its top few bits are kept."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask


def new_data_key() -> bytes:
    return nacl.utils.random(KEY_BYTES)


def _subkey(data_key: bytes, purpose: bytes) -> bytes:
    return nacl.hash.blake2b(
        b"", digest_size=KEY_BYTES, key=data_key, person=purpose, encoder=nacl.encoding.RawEncoder
    )


def seal_text(data_key: bytes, content: dict) -> str:
    """``content`` (JSON-able) encrypted under ``data_key``, padded; base64."""
    data = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    framed = len(data).to_bytes(4, "big") + data
    size = max(TEXT_MINIMUM, padme(len(framed)))
    box = SecretBox(_subkey(data_key, b"tip-text"))
    return base64.b64encode(box.encrypt(framed + bytes(size - len(framed)))).decode("ascii")


def open_text(data_key: bytes, sealed: str) -> dict:
    try:
        framed = SecretBox(_subkey(data_key, b"tip-text")).decrypt(
            base64.b64decode(sealed.encode("ascii"), validate=True)
        )
        size = int.from_bytes(framed[:4], "big")
        if size > len(framed) - 4:
            raise ValueError("damaged padding")
        content = json.loads(framed[4 : 4 + size].decode("utf-8"))
    except (nacl.exceptions.CryptoError, binascii.Error, ValueError, AttributeError):
        raise TipBoxError("The sealed message is damaged.") from None
    if not isinstance(content, dict):
        raise TipBoxError("The sealed message is damaged.")
    return content


def padded_file_length(length: int) -> int:
    """How many bytes of plaintext a file of ``length`` bytes is padded to (its trailer in)."""
    wanted = padme(length + _TRAILER)
    return max(BLOCK, -(-wanted // BLOCK) * BLOCK)


def sealed_file_length(length: int) -> int:
    """The length of the ciphertext of a file of ``length`` bytes."""
    return _HEADER + padded_file_length(length) // BLOCK * (BLOCK + _ABYTES)


class FileSealer:
    """Encrypts one file as it arrives: ``update`` with each chunk, then ``finish``. Holds at
    most one block of plaintext, and the ciphertext."""

    def __init__(self, data_key: bytes, position: int):
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self._ad = f"file:{position}".encode()
        self._out = bytearray(
            sodium.crypto_secretstream_xchacha20poly1305_init_push(
                self._state, _subkey(data_key, b"tip-file")
            )
        )
        self._buffer = bytearray()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._buffer += chunk
        while len(self._buffer) > BLOCK:  # keep at least one byte back for the last block
            self._push(bytes(self._buffer[:BLOCK]), _MESSAGE)
            del self._buffer[:BLOCK]

    def _push(self, block: bytes, tag: int) -> None:
        self._out += sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, block, self._ad, tag
        )

    def finish(self) -> bytes:
        """The whole ciphertext; the sealer is spent."""
        total = padded_file_length(self.size)
        pushed = (len(self._out) - _HEADER) // (BLOCK + _ABYTES) * BLOCK
        rest = bytes(self._buffer) + bytes(total - pushed - len(self._buffer) - _TRAILER)
        rest += self.size.to_bytes(_TRAILER, "big")
        self._buffer.clear()
        for start in range(0, len(rest), BLOCK):
            last = start + BLOCK >= len(rest)
            self._push(rest[start : start + BLOCK], _FINAL if last else _MESSAGE)
        out, self._out = bytes(self._out), bytearray()
        return out


def seal_file(data_key: bytes, position: int, data: bytes) -> bytes:
    sealer = FileSealer(data_key, position)
    for start in range(0, len(data), BLOCK):
        sealer.update(data[start : start + BLOCK])
    return sealer.finish()


def open_file(data_key: bytes, position: int, sealed: bytes) -> bytes:
    """The plaintext of a file sealed by ``FileSealer`` at ``position`` of its message."""
    damaged = TipBoxError("The sealed file is damaged.")
    step = BLOCK + _ABYTES
    body = bytes(sealed)[_HEADER:]
    if len(sealed) < _HEADER + step or len(body) % step:
        raise damaged
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    ad = f"file:{position}".encode()
    try:
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            state, bytes(sealed)[:_HEADER], _subkey(data_key, b"tip-file")
        )
        plain = bytearray()
        tag = _MESSAGE
        for start in range(0, len(body), step):
            if tag == _FINAL:
                raise damaged  # blocks after the last one
            block, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                state, body[start : start + step], ad
            )
            plain += block
    except (nacl.exceptions.CryptoError, RuntimeError, ValueError):
        raise damaged from None
    if tag != _FINAL:
        raise damaged  # cut short
    size = int.from_bytes(plain[-_TRAILER:], "big")
    if size > len(plain) - _TRAILER:
        raise damaged
    return bytes(plain[:size])


def seal_envelope(data_key: bytes, content: dict, public_keys: list[str]) -> dict:
    """What a message row keeps: its text (and its files' names and sizes) under the data
    key, and the data key sealed to each of ``public_keys``."""
    return {
        "v": VERSION,
        "text": seal_text(data_key, content),
        "keys": sealing.seal_key(data_key, public_keys),
    }


def open_envelope(envelope: object, private: bytes) -> tuple[bytes, dict]:
    """(data key, content) of a ``seal_envelope`` result, with one recipient's private key.
    Raises ``SealingError`` if the key is not among its recipients."""
    if not isinstance(envelope, dict) or envelope.get("v") != VERSION:
        raise TipBoxError("The sealed message is damaged or of an unknown version.")
    data_key = sealing.open_key(envelope.get("keys"), private)
    text = envelope.get("text")
    if not isinstance(text, str):
        raise TipBoxError("The sealed message is damaged.")
    return data_key, open_text(data_key, text)


def is_recipient(envelope: object, private: bytes) -> bool:
    keys = envelope.get("keys") if isinstance(envelope, dict) else None
    return isinstance(keys, dict) and sealing.private_key_id(private) in keys
