"""Seal signer fields to the organizers' public keys; the server never holds a private key.

``seal`` draws a random 32-byte data key, encrypts the fields (JSON) with it in a
``SecretBox`` (XSalsa20-Poly1305), and seals the data key once per organizer key in a libsodium
sealed box (X25519, anonymous sender). Any one organizer's private key opens the data key, and
with it the fields; nobody else can, the server included.

An organizer keeps the private key in a file protected by a passphrase: the passphrase goes
through Argon2id (with the limits recorded in the file) to a key that encrypts the private key
in a ``SecretBox``. The file also names the public key and its id, which are not secret.

Keys and ciphertexts are standard base64 text (with padding).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import unicodedata

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

SEALED_VERSION = 1
KEY_FILE_FORMAT = "undersigned-organizer-key"
KEY_FILE_VERSION = 1
KEY_BYTES = 32
KEY_ID_CHARS = 16

# Argon2id limits for new key files: libsodium's MODERATE (256 MiB, 3 passes; about half a
# second). A file may record other limits; these bounds keep a damaged or hostile file from
# asking for a trivially weak or an exhausting derivation.
OPSLIMIT = argon2id.OPSLIMIT_MODERATE
MEMLIMIT = argon2id.MEMLIMIT_MODERATE
OPSLIMIT_BOUNDS = (argon2id.OPSLIMIT_INTERACTIVE, 4 * argon2id.OPSLIMIT_SENSITIVE)
MEMLIMIT_BOUNDS = (argon2id.MEMLIMIT_INTERACTIVE, argon2id.MEMLIMIT_SENSITIVE)

DAMAGED = "wrong passphrase or damaged key file"
PAD_BUCKET = 128  # bytes: sealed fields are padded to a multiple of this


class SealingError(Exception):
    """A key, a key file or sealed data cannot be used; the message says what to do."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise SealingError(f"{what} is not base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise SealingError(f"{what} is not valid base64") from None


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC, so that the same passphrase typed on two systems derives the same key.
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _check_private(private: bytes) -> PrivateKey:
    if not isinstance(private, bytes) or len(private) != KEY_BYTES:
        raise SealingError(f"A private key is exactly {KEY_BYTES} raw bytes.")
    return PrivateKey(private)


def generate_keypair() -> tuple[bytes, str]:
    """A new X25519 key pair: (raw 32-byte private key, base64 public key)."""
    private = PrivateKey.generate()
    return bytes(private), _b64(bytes(private.public_key))


def _decode_public(text: str) -> bytes:
    if not isinstance(text, str):
        raise SealingError("A public key is base64 text.")
    cleaned = "".join(text.split())
    # Accept the URL-safe alphabet too; store the standard one.
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise SealingError(
            "The public key is not valid base64; paste the line that `undersigned keys "
            "generate` printed after 'Public key:'."
        ) from None
    if len(raw) != KEY_BYTES:
        raise SealingError(
            f"The public key decodes to {len(raw)} bytes; an organizer's public key is "
            f"exactly {KEY_BYTES} bytes (44 base64 characters)."
        )
    return raw


def _sealed_box(raw_public: bytes, data: bytes) -> bytes:
    try:
        return SealedBox(PublicKey(raw_public)).encrypt(data)
    except nacl.exceptions.CryptoError:
        # A low-order point (e.g. all zeros) decodes fine but can never be sealed to.
        raise SealingError(
            "The public key is not a usable X25519 key; generate a new key pair."
        ) from None


def validate_public_key(text: str) -> str:
    """The public key in normalized base64, or ``SealingError`` if it cannot receive seals."""
    raw = _decode_public(text)
    _sealed_box(raw, b"")
    return _b64(raw)


def key_id(public_key_b64: str) -> str:
    """A short, stable id of a public key: the first 16 hex digits of SHA-256 of its bytes."""
    return _key_id(_decode_public(public_key_b64))


def _key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:KEY_ID_CHARS]


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    try:
        return argon2id.kdf(
            SecretBox.KEY_SIZE,
            _passphrase_bytes(passphrase),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )
    except (nacl.exceptions.CryptoError, RuntimeError, MemoryError) as exc:
        raise SealingError(
            f"Could not derive a key from the passphrase ({memlimit // 2**20} MiB of memory "
            f"needed): {exc}"
        ) from None


def protect_private_key(private: bytes, passphrase: str) -> bytes:
    """A key file (UTF-8 JSON): the public key, its id, and the private key encrypted under
    a key derived from ``passphrase`` by Argon2id."""
    raw_public = bytes(_check_private(private).public_key)
    if not isinstance(passphrase, str) or passphrase == "":
        raise SealingError("The passphrase is empty; choose a long passphrase to protect the key.")
    salt = nacl.utils.random(argon2id.SALTBYTES)
    box = SecretBox(_derive(passphrase, salt, OPSLIMIT, MEMLIMIT))
    document = {
        "format": KEY_FILE_FORMAT,
        "v": KEY_FILE_VERSION,
        "key_id": _key_id(raw_public),
        "public_key": _b64(raw_public),
        "kdf": {
            "alg": "argon2id13",
            "opslimit": OPSLIMIT,
            "memlimit": MEMLIMIT,
            "salt": _b64(salt),
        },
        "cipher": "xsalsa20poly1305",
        "encrypted_private_key": _b64(box.encrypt(private)),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _damaged(detail: str) -> SealingError:
    return SealingError(f"Cannot open the private key: {DAMAGED} ({detail}).")


def open_private_key(data: bytes, passphrase: str) -> bytes:
    """The raw private key from a key file made by ``protect_private_key``."""
    if not isinstance(passphrase, str) or passphrase == "":
        raise SealingError("The passphrase is empty; type the passphrase of this key file.")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, AttributeError):
        raise _damaged("the file is not an Undersigned key file") from None
    if not isinstance(document, dict) or document.get("format") != KEY_FILE_FORMAT:
        raise _damaged("the file is not an Undersigned key file")
    if document.get("v") != KEY_FILE_VERSION:
        raise _damaged(f"unknown key file version {document.get('v')!r}")
    kdf = document.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("alg") != "argon2id13":
        raise _damaged("unknown key derivation")
    opslimit, memlimit = kdf.get("opslimit"), kdf.get("memlimit")
    if not (
        type(opslimit) is int
        and type(memlimit) is int
        and OPSLIMIT_BOUNDS[0] <= opslimit <= OPSLIMIT_BOUNDS[1]
        and MEMLIMIT_BOUNDS[0] <= memlimit <= MEMLIMIT_BOUNDS[1]
    ):
        raise _damaged("key derivation limits out of range")
    try:
        salt = _unb64(kdf.get("salt"), "salt")
        encrypted = _unb64(document.get("encrypted_private_key"), "encrypted private key")
    except SealingError as exc:
        raise _damaged(str(exc)) from None
    try:
        public = validate_public_key(str(document.get("public_key", "")))
    except SealingError:
        raise _damaged("its public key is not a valid key") from None
    if len(salt) != argon2id.SALTBYTES:
        raise _damaged("salt of the wrong length")
    box = SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    try:
        private = box.decrypt(encrypted)
    except nacl.exceptions.CryptoError:
        raise SealingError(f"Cannot open the private key: {DAMAGED}.") from None
    if len(private) != KEY_BYTES or _b64(bytes(PrivateKey(private).public_key)) != public:
        raise _damaged("the private key does not match the public key in the file")
    return private


def seal(fields: dict[str, str], public_keys: list[str]) -> dict:
    """Encrypt ``fields`` so that the holder of any one of ``public_keys`` can read them.

    Returns ``{"v": 1, "box": <b64>, "keys": {<key id>: <b64 sealed data key>, ...}}``.
    """
    if not public_keys:
        raise SealingError("There is no public key to seal to; the fields cannot be stored.")
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise SealingError(
            "Only text fields can be sealed: a dict of str to str (use '' for none)."
        )
    data_key = nacl.utils.random(SecretBox.KEY_SIZE)
    plaintext = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")
    # Padded with spaces (which JSON ignores) to a multiple of PAD_BUCKET bytes, so that the
    # ciphertext's length does not tell a two-letter name from a long one.
    plaintext += b" " * (-len(plaintext) % PAD_BUCKET)
    return {
        "v": SEALED_VERSION,
        "box": _b64(SecretBox(data_key).encrypt(plaintext)),
        "keys": seal_key(data_key, public_keys),
    }


def seal_key(data_key: bytes, public_keys: list[str]) -> dict[str, str]:
    """``data_key`` sealed once to each of ``public_keys``: {key id: base64 sealed box}."""
    if not public_keys:
        raise SealingError("There is no public key to seal to.")
    recipients = {_key_id(raw): raw for raw in map(_decode_public, public_keys)}
    return {kid: _b64(_sealed_box(raw, data_key)) for kid, raw in recipients.items()}


def private_key_id(private: bytes) -> str:
    """The id of the public half of a raw private key."""
    return _key_id(bytes(_check_private(private).public_key))


def open_key(keys: object, private: bytes) -> bytes:
    """The data key that ``seal_key`` sealed, opened with one recipient's raw private key."""
    secret = _check_private(private)
    kid = _key_id(bytes(secret.public_key))
    if not isinstance(keys, dict):
        raise SealingError("The sealed data is damaged (no recipients).")
    if kid not in keys:
        raise SealingError(
            f"This private key (id {kid}) is not among the recipients of the sealed data "
            f"(ids: {', '.join(sorted(map(str, keys))) or 'none'})."
        )
    try:
        return SealedBox(secret).decrypt(_unb64(keys[kid], "sealed data key"))
    except (SealingError, nacl.exceptions.CryptoError):
        raise SealingError(
            f"The sealed data is damaged or was not sealed for this key (id {kid})."
        ) from None


def unseal(sealed: dict, private: bytes) -> dict[str, str]:
    """The fields of a ``seal`` result, opened with one recipient's raw private key."""
    kid = private_key_id(private)
    if not isinstance(sealed, dict) or sealed.get("v") != SEALED_VERSION:
        raise SealingError("The sealed data is damaged or of an unknown version.")
    data_key = open_key(sealed.get("keys"), private)
    try:
        plaintext = SecretBox(data_key).decrypt(_unb64(sealed.get("box"), "box"))
        fields = json.loads(plaintext.decode("utf-8"))
    except (SealingError, nacl.exceptions.CryptoError, ValueError, TypeError):
        raise SealingError(
            f"The sealed data is damaged or was not sealed for this key (id {kid})."
        ) from None
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise SealingError("The sealed data is damaged (the fields are not text).")
    return fields
