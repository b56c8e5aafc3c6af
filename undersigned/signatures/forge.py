"""Proving a code-forge account without OAuth: GitHub, GitLab and Codeberg publish each
user's SSH public keys at ``<forge>/<user>.keys``. The signer signs a challenge (this
instance's namespace, the letter, the forge and user name, a nonce, an expiry) with
``ssh-keygen -Y sign``; the server fetches the user's keys and checks the signature against
them (``lib.sshkeys``). A challenge is good for ten minutes, once.

What is kept of the proof is what a point-in-time claim needs: which forge, the user name
(as the signer chose to show it: see ``services``), the fingerprint of the key that signed
and the hour of the check; never the key list."""

from __future__ import annotations

import base64
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import connection
from django.utils import timezone

from undersigned.db import rows
from undersigned.lib import sshkeys
from undersigned.lib.tokens import derive_key, keyed_hash, token_hash
from undersigned.moderation import limits
from undersigned.signatures import privacy
from undersigned.signatures.models import ForgeChallenge

FORGES = {
    # name: (what people call it, the host shown with a user's name)
    "github": ("GitHub", "github.com"),
    "gitlab": ("GitLab", "gitlab.com"),
    "codeberg": ("Codeberg", "codeberg.org"),
}
FORGE_CHOICES = [(name, label) for name, (label, _host) in FORGES.items()]
# User names as the three forges allow them (GitHub's are the narrowest; GitLab's and
# Codeberg's also take dots and underscores); nothing that could leave the path.
USERNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?")
MAX_KEYS_BYTES = 256 * 1024
# Each challenge is a row and each proof a request to the forge: per client network (its
# keyed hash), at most this many of both in an hour.
ATTEMPTS_PER_HOUR = 30


class ForgeError(ValueError):
    """A proof failed; ``str()`` is a message for the signer (also an API's ``error``)."""


def namespace() -> str:
    """This instance's own SSHSIG namespace: a signature made for git, for files or for
    another site cannot be replayed here."""
    return f"undersigned@{urlsplit(settings.BASE_URL).netloc}"


def label(forge: str) -> str:
    return FORGES[forge][0]


def account(forge: str, username: str) -> str:
    """How a public signer's account is shown: ``github.com/<user>``."""
    return f"{FORGES[forge][1]}/{username}"


def check_account(forge: str, username: str) -> tuple[str, str]:
    """The forge and user name, checked; raises ``ForgeError`` with what to fix."""
    if forge not in FORGES:
        raise ForgeError("Choose the forge of your account: github, gitlab or codeberg.")
    username = (username or "").strip().removeprefix("@")
    if not USERNAME.fullmatch(username) or ".." in username:
        raise ForgeError(
            f"Enter your {label(forge)} user name as it appears in your profile's address "
            "(letters, digits, '-', '_' or '.')."
        )
    return forge, username


def account_hash(letter, forge: str, username: str) -> str:
    """A keyed hash of the account, per letter (as for emails), for one signature per
    account: user names are compared lower-cased, as the forges compare them."""
    return letter.email_hash(f"forge:{forge}:{username.lower()}")


def count_attempt(ip: str) -> None:
    """Count a challenge or a proof from the client at ``ip``; refuse one too many."""
    client = privacy.ip_hash(ip)[0]
    if not client or limits.client_exempt(ip):
        return
    key = f"forge-client:{client}"
    if limits.count(key, 3600) >= ATTEMPTS_PER_HOUR:
        raise ForgeError(
            "Too many forge challenges from your network in the last hour: try again later."
        )
    limits.count(key, 3600, add=1)


def _nonce(random_part: str, scope: str, forge: str, username: str, expires: datetime) -> str:
    """A challenge's nonce: a random part, then a keyed MAC of it with what the challenge is
    for (scope, account, expiry). So a challenge serves one letter (or pledge) and account
    while its row holds nothing that could be tested against an account, even by whoever
    holds the secret: only the hash of the nonce (whose random part they cannot know)."""
    key = derive_key(settings.SECRET_KEY, "forge-challenge")
    subject = f"{random_part}\0{scope}\0{forge}\0{username.lower()}\0{expires.isoformat()}"
    mac = base64.urlsafe_b64encode(keyed_hash(key, subject)[:12]).decode()
    return random_part + mac


@dataclass(frozen=True)
class Challenge:
    text: str
    namespace: str
    expires_at: datetime | None  # None: shown again from a form, not issued now

    @property
    def commands(self) -> dict[str, str]:
        """The commands that sign it, per system; single quotes keep every character
        (the challenge has none of its own), and ``printf '%s'`` adds no newline."""
        ns = self.namespace
        unix = f"printf '%s' '{self.text}' | ssh-keygen -Y sign -n '{ns}' -f ~/.ssh/id_ed25519"
        windows = (
            f"Set-Content -NoNewline -Encoding ascii -Path challenge.txt -Value '{self.text}'; "
            f"ssh-keygen -Y sign -n '{ns}' -f $env:USERPROFILE\\.ssh\\id_ed25519 challenge.txt; "
            "Get-Content challenge.txt.sig"
        )
        return {"linux": unix, "macos": unix, "windows": windows}

    @property
    def command(self) -> str:
        return self.commands["linux"]


def _text(scope_label: str, forge: str, username: str, nonce: str, expires: datetime) -> str:
    return (
        f"{namespace()}: I, {forge} user {username}, sign {scope_label}; "
        f"nonce {nonce}; valid until {expires:%Y-%m-%dT%H:%MZ}"
    )


NONCE = re.compile(r"; nonce ([A-Za-z0-9_-]{32}); ")
RANDOM_BYTES, RANDOM_CHARS = 12, 16  # the nonce's random part (96 bits), then its MAC


def new_challenge(scope: str, scope_label: str, forge: str, username: str) -> Challenge:
    """A challenge for the account to sign, for ``scope`` (e.g. ``letter:<id>``), shown to
    the signer as ``scope_label`` (e.g. ``letter end-the-contract``)."""
    forge, username = check_account(forge, username)
    now = timezone.now().replace(second=0, microsecond=0)
    expires = now + timedelta(minutes=settings.FORGE_CHALLENGE_MINUTES + 1)
    nonce = _nonce(secrets.token_urlsafe(RANDOM_BYTES), scope, forge, username, expires)
    rows.insert(ForgeChallenge, {"nonce_hash": token_hash(nonce).hex(), "expires_at": expires})
    return Challenge(_text(scope_label, forge, username, nonce, expires), namespace(), expires)


@dataclass(frozen=True)
class Proof:
    """An account proven by a signature, now."""

    forge: str
    username: str
    fingerprint: str


def prove(
    scope: str, scope_label: str, forge: str, username: str, challenge: str, signature: str
) -> Proof:
    """Check that ``signature`` signs ``challenge``, issued for this scope and account and
    neither used nor expired, with one of the keys the forge lists for the account; then
    spend the challenge. Raises ``ForgeError`` with the reason for the signer."""
    forge, username = check_account(forge, username)
    challenge = (challenge or "").strip()
    found = NONCE.search(challenge)
    if not found:
        raise ForgeError("That is not a challenge from this site: ask for a new one.")
    nonce_hash = token_hash(found.group(1)).hex()
    row = ForgeChallenge.objects.filter(nonce_hash=nonce_hash).first()
    if row is None:
        raise ForgeError("This challenge was used already or is unknown: ask for a new one.")
    if row.expires_at <= timezone.now():
        raise ForgeError("This challenge has expired (they last ten minutes): ask for a new one.")
    nonce = found.group(1)
    if nonce != _nonce(nonce[:RANDOM_CHARS], scope, forge, username, row.expires_at):
        raise ForgeError(
            "This challenge was issued for another account or letter: ask for a new one for "
            "this account."
        )
    if challenge != _text(scope_label, forge, username, found.group(1), row.expires_at):
        raise ForgeError("The challenge was changed: sign it exactly as it was shown.")
    keys = fetch_keys(forge, username)
    if not keys:
        raise ForgeError(
            f"{label(forge)} lists no SSH keys for {username}: add your public key to your "
            "account (or check the user name), then ask for a new challenge."
        )
    try:
        key = sshkeys.verify(challenge, signature or "", namespace(), keys)
    except sshkeys.BadSignature as exc:
        raise ForgeError(str(exc)) from None
    if not _spend(nonce_hash):
        raise ForgeError("This challenge was used already: ask for a new one.")
    return Proof(forge, username, key.fingerprint)


def _spend(nonce_hash: str) -> bool:
    """Delete the challenge if it is still there; of two requests at once, one wins."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM signatures_forgechallenge WHERE nonce_hash = %s AND expires_at > %s",
            [nonce_hash, connection.ops.adapt_datetimefield_value(timezone.now())],
        )
        return cursor.rowcount == 1


def fetch_keys(forge: str, username: str) -> list[sshkeys.Key]:
    """The account's public keys, from ``<forge URL>/<user>.keys``, with a short timeout."""
    url = f"{settings.FORGE_URLS[forge]}/{quote(username)}.keys"
    if not url.startswith(("https://", "http://")):  # the settings' check says so too
        raise ForgeError(_unreachable(forge))
    request = urllib.request.Request(url, headers={"User-Agent": "undersigned"})  # noqa: S310
    timeout = settings.FORGE_TIMEOUT_SECONDS
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_KEYS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ForgeError(f"{label(forge)} has no user {username}.") from None
        raise ForgeError(_unreachable(forge)) from None
    except (urllib.error.URLError, OSError, ValueError):
        raise ForgeError(_unreachable(forge)) from None
    if len(body) > MAX_KEYS_BYTES:
        raise ForgeError(f"{label(forge)} lists too many keys for {username} to check.")
    return sshkeys.parse_keys(body.decode("utf-8", errors="replace"))


def _unreachable(forge: str) -> str:
    return (
        f"{label(forge)} could not be reached to read your public keys. Nothing was signed: "
        "try again in a minute."
    )
