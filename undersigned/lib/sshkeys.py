"""Checking an SSH signature (``ssh-keygen -Y sign``, the SSHSIG format) against a list of
public keys, as a code forge publishes them at ``<forge>/<user>.keys``.

ed25519 and RSA (SHA-2 only) are checked in process by the ``sshsig`` library; ECDSA and
security-key (``sk-``) types by OpenSSH's own ``ssh-keygen -Y verify``. A security key's
signature must carry the user-presence flag (someone touched the key): ``ssh-keygen -Y
verify`` does not require it (OpenSSH 9.2), so it is checked here."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sshsig
from sshsig.sshsig import SshsigSignature

IN_PROCESS = ("ssh-ed25519", "ssh-rsa")
BY_SSH_KEYGEN = (
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
MAX_SIGNATURE_CHARS = 8000
SSH_KEYGEN_TIMEOUT = 10


class BadSignature(ValueError):
    """The signature does not prove what it should; ``str()`` says why, for the signer."""


@dataclass(frozen=True)
class Key:
    """One line of a ``.keys`` list: its type and its base64 blob."""

    kind: str
    blob: str

    @property
    def fingerprint(self) -> str:
        """As ``ssh-keygen -l`` prints it: ``SHA256:`` and unpadded base64."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def line(self) -> str:
        return f"{self.kind} {self.blob}"


def parse_keys(text: str) -> list[Key]:
    """The keys of a ``.keys`` list (one ``type base64 [comment]`` per line); lines that are
    not a key of a known type are skipped."""
    keys = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] not in IN_PROCESS + BY_SSH_KEYGEN:
            continue
        try:
            base64.b64decode(parts[1], validate=True)
        except ValueError:
            continue
        keys.append(Key(parts[0], parts[1]))
    return keys


USER_PRESENT = 0x01  # PROTOCOL.u2f: the flags byte of a security key's signature


def _user_present(signature: bytes) -> bool:
    """Whether a security key's signature blob (string type, string signature, byte flags,
    uint32 counter) says that its user touched the key."""
    offset = 0
    for _ in range(2):
        length = int.from_bytes(signature[offset : offset + 4], "big")
        offset += 4 + length
    return len(signature) == offset + 5 and bool(signature[offset] & USER_PRESENT)


def _signed_key(armored: str, namespace: str) -> Key:
    """The public key inside an armored signature, once its form and namespace are right."""
    if len(armored) > MAX_SIGNATURE_CHARS or "-----BEGIN SSH SIGNATURE-----" not in armored:
        raise BadSignature(
            "That is not an SSH signature: paste everything ssh-keygen printed, from "
            "-----BEGIN SSH SIGNATURE----- to -----END SSH SIGNATURE-----."
        )
    try:
        outer = SshsigSignature.from_armored(armored.strip())
    except (ValueError, NotImplementedError, IndexError) as exc:
        raise BadSignature(f"That SSH signature cannot be read ({exc}); copy it again.") from exc
    if outer.namespace != namespace.encode():
        raise BadSignature(
            f"That signature was made for another purpose (namespace "
            f"{outer.namespace.decode(errors='replace')!r}); sign with -n {namespace}."
        )
    blob = bytes(outer.public_key)
    kind = blob[4 : 4 + int.from_bytes(blob[:4], "big")].decode(errors="replace")
    if kind.startswith("sk-") and not _user_present(bytes(outer.signature)):
        raise BadSignature(
            "Your security key signed without being touched: sign again and touch the key "
            "when it blinks."
        )
    return Key(kind, base64.b64encode(blob).decode())


def verify(message: str, armored: str, namespace: str, allowed: list[Key]) -> Key:
    """The key of ``allowed`` that made ``armored``, a signature of ``message`` in
    ``namespace``; raises ``BadSignature`` otherwise. A message may have been signed with a
    trailing newline (as ``echo`` or PowerShell add one): those are the same message."""
    signer = _signed_key(armored, namespace)
    listed = next((key for key in allowed if key.blob == signer.blob), None)
    if listed is None:
        raise BadSignature(
            f"The key that made this signature ({signer.fingerprint}) is not one of this "
            "account's public keys. Sign with a key listed on your account."
        )
    for variant in (message, message + "\n", message + "\r\n"):
        if _valid(variant, armored, namespace, listed):
            return listed
    raise BadSignature(
        "This signature is not of this challenge: sign exactly the challenge shown, unchanged."
    )


def _valid(message: str, armored: str, namespace: str, key: Key) -> bool:
    if key.kind in IN_PROCESS:
        try:
            allowed = [sshsig.PublicKey.from_openssh_str(key.line)]
            sshsig.verify(message.encode(), armored.strip(), allowed, namespace)
        except (sshsig.InvalidSignature, ValueError, NotImplementedError, AssertionError):
            return False
        return True
    return _verify_with_ssh_keygen(message, armored, namespace, key)


PRINCIPAL = "signer"


def _verify_with_ssh_keygen(message: str, armored: str, namespace: str, key: Key) -> bool:
    program = shutil.which("ssh-keygen")
    if program is None:
        raise BadSignature(
            "This site cannot check signatures of this key type: use an ed25519 or RSA key."
        )
    with tempfile.TemporaryDirectory() as folder:
        allowed = Path(folder, "allowed_signers")
        allowed.write_text(f'{PRINCIPAL} namespaces="{namespace}" {key.line}\n')
        signature = Path(folder, "message.sig")
        signature.write_text(armored.strip() + "\n")
        try:
            done = subprocess.run(  # noqa: S603  (a fixed program; files we wrote)
                [program, "-Y", "verify", "-f", str(allowed), "-I", PRINCIPAL, "-n", namespace]
                + ["-s", str(signature)],
                input=message.encode(),
                capture_output=True,
                timeout=SSH_KEYGEN_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0
