"""Signing as a code-forge account, proven by an SSH signature: keys made by the real
``ssh-keygen`` (ed25519, RSA, ECDSA) and a security key's signature built by hand (no FIDO
device here); the forge played by a local HTTP server serving ``<user>.keys``; every refusal
an adversary would try, through the API and the page."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess
import textwrap
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.conftest import in_threads, make_letter, settle
from undersigned.letters.models import Letter
from undersigned.signatures import forge
from undersigned.signatures.counting import apply_deltas
from undersigned.signatures.models import ForgeChallenge, Receipt, Signature
from undersigned.signatures.retention import purge
from undersigned.web.caching import recent

pytestmark = pytest.mark.django_db
API = "/api/v1/letters/clean-air"


class Forge:
    """A code forge on loopback: ``/<user>.keys`` (under any prefix) lists the user's keys."""

    def __init__(self):
        self.keys: dict[str, list[str]] = {}
        self.requests: list[str] = []
        forge_ = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                forge_.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                user = name.removesuffix(".keys").lower()
                if not name.endswith(".keys") or user not in forge_.keys:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = "".join(line + "\n" for line in forge_.keys[user]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github(settings):
    server = Forge()
    settings.FORGE_URLS = {
        "github": server.url,
        "gitlab": server.url + "/gitlab",
        "codeberg": server.url + "/codeberg",
    }
    yield server
    server.close()


@pytest.fixture
def open_letter(organizer):
    """A letter of a community, naming no organization domains (so forge accounts verify)."""
    return make_letter([organizer])


class SshKey:
    def __init__(self, folder, kind: str, name: str):
        self.path = folder / f"{name}_{kind}"
        bits = ["-b", "3072"] if kind == "rsa" else []
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-C", name, "-f", str(self.path)],
            check=True,
            timeout=30,
        )
        self.public = self.path.with_suffix(".pub").read_text().strip()
        self.fingerprint = (
            subprocess.run(
                ["ssh-keygen", "-l", "-f", str(self.path)],
                check=True,
                capture_output=True,
                text=True,
                timeout=10,
            )
            .stdout.split()[1]
            .strip()
        )

    def sign(self, message: str, namespace: str) -> str:
        done = subprocess.run(
            ["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(self.path)],
            input=message.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        )
        return done.stdout.decode()


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class SecurityKey:
    """An ``sk-ssh-ed25519@openssh.com`` key and its SSHSIG signatures, built as a FIDO
    authenticator and ssh-keygen would (PROTOCOL.u2f, PROTOCOL.sshsig), with or without the
    flag that says its user touched it."""

    KIND = b"sk-ssh-ed25519@openssh.com"
    APPLICATION = b"ssh:"

    def __init__(self):
        self.private = ed25519.Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.blob = _string(self.KIND) + _string(raw) + _string(self.APPLICATION)
        self.public = f"{self.KIND.decode()} {base64.b64encode(self.blob).decode()}"

    def sign(self, message: str, namespace: str, touched: bool = True) -> str:
        digest = hashlib.sha512(message.encode()).digest()
        signed = b"SSHSIG" + _string(namespace.encode()) + _string(b"") + _string(b"sha512")
        signed += _string(digest)
        flags, counter = bytes([0x01 if touched else 0x00]), struct.pack(">I", 42)
        data = hashlib.sha256(self.APPLICATION).digest() + flags + counter
        data += hashlib.sha256(signed).digest()
        inner = _string(self.KIND) + _string(self.private.sign(data)) + flags + counter
        outer = b"SSHSIG" + struct.pack(">I", 1) + _string(self.blob)
        outer += _string(namespace.encode()) + _string(b"") + _string(b"sha512") + _string(inner)
        lines = textwrap.wrap(base64.b64encode(outer).decode(), 70)
        return "\n".join(["-----BEGIN SSH SIGNATURE-----", *lines, "-----END SSH SIGNATURE-----"])


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return {kind: SshKey(folder, kind, "alice") for kind in ("ed25519", "rsa", "ecdsa")} | {
        "bob": SshKey(folder, "ed25519", "bob")
    }


def challenge_for(client, username="alice", forge_name="github", slug="clean-air") -> dict:
    response = client.post(
        f"/api/v1/letters/{slug}/forge-challenges",
        json.dumps({"forge": forge_name, "username": username}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def sign_api(client, **fields):
    return client.post(f"{API}/signatures", json.dumps(fields), content_type="application/json")


def forge_fields(challenge: dict, signature: str, username="alice", forge_name="github") -> dict:
    return {
        "forge": forge_name,
        "forge_username": username,
        "challenge": challenge["challenge"],
        "ssh_signature": signature,
    }


def page_fields(text: str, key, **more) -> dict:
    """The forge page's second step: the challenge shown, signed with ``key``, and ``more``."""
    signature = key.sign(text, forge.namespace())
    return {**forge_fields({"challenge": text}, signature), **more}


def signed_and_counted(client, fields: dict, name="Alice Maintainer", **more):
    response = sign_api(client, name=name, **fields, **more)
    settle()
    apply_deltas()
    cache.clear()  # pages reuse a letter row read a moment ago
    recent.clear()
    return response


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_each_key_type_proves_the_account_without_an_email(client, open_letter, github, keys, kind):
    github.keys["alice"] = [keys["bob"].public, keys[kind].public]
    challenge = challenge_for(client)
    assert challenge["namespace"] not in ("git", "file")
    assert f"-n '{challenge['namespace']}'" in challenge["command"]
    signature = keys[kind].sign(challenge["challenge"], challenge["namespace"])

    response = signed_and_counted(client, forge_fields(challenge, signature))

    assert response.status_code == 202, response.content
    receipt_url = response.json()["receipt_url"]
    assert response.json()["status"] == "signed"
    open_letter.refresh_from_db()
    assert (open_letter.signature_count, open_letter.verified_count) == (1, 1)
    signature_row = Signature.objects.get()
    assert signature_row.is_confirmed and signature_row.forge == "github"
    assert signature_row.forge_fingerprint == keys[kind].fingerprint
    assert signature_row.forge_checked_at.minute == 0  # the hour, never finer
    listed = client.get(f"{API}/signatures").json()["signatures"]
    assert listed[0]["verification"] == "github.com/alice"
    page = client.get("/l/clean-air/").content.decode()
    assert "verified: github.com/alice" in page
    headline = page[page.find('id="count-heading"') :][:700]
    assert "1</span> verified by code-forge account" in headline, headline
    # The private link shown once manages it: withdrawing drops the count.
    token = receipt_url.rsplit("/s/", 1)[1]
    assert Client().post(f"/s/{token}", {"action": "withdraw-confirmed"}).status_code == 200
    apply_deltas()
    open_letter.refresh_from_db()
    assert open_letter.signature_count == 0


def test_a_touched_security_key_is_checked_by_ssh_keygen_and_an_untouched_one_refused(
    client, open_letter, github
):
    key = SecurityKey()
    github.keys["alice"] = [key.public]
    challenge = challenge_for(client)
    untouched = key.sign(challenge["challenge"], challenge["namespace"], touched=False)

    refused = sign_api(client, name="Alice", **forge_fields(challenge, untouched))

    assert refused.status_code == 400
    assert "touch" in refused.json()["error"]
    touched = key.sign(challenge["challenge"], challenge["namespace"])
    # A signature of another message by the same key: ssh-keygen refuses it.
    other = key.sign(challenge["challenge"].replace("nonce", "nonse"), challenge["namespace"])
    assert sign_api(client, name="Alice", **forge_fields(challenge, other)).status_code == 400
    accepted = signed_and_counted(client, forge_fields(challenge, touched))
    assert accepted.status_code == 202, accepted.content
    assert Signature.objects.get().forge_fingerprint.startswith("SHA256:")


def refusal(client, fields: dict) -> str:
    response = sign_api(client, name="Mallory", **fields)
    assert response.status_code == 400, response.content
    assert not Signature.objects.exists()
    settle()
    assert not Signature.objects.exists()
    return response.json()["error"]


def test_every_forgery_is_refused_with_a_reason(client, open_letter, github, keys):
    alice, bob = keys["ed25519"], keys["bob"]
    github.keys["alice"] = [alice.public]
    github.keys["bob"] = [bob.public]
    challenge = challenge_for(client)
    text, namespace = challenge["challenge"], challenge["namespace"]

    # Another namespace: a signature made for git (a signed commit) is not one for here.
    assert "namespace" in refusal(client, forge_fields(challenge, alice.sign(text, "git")))
    # Another user's key: Bob signs Alice's challenge.
    assert "not one of this account" in refusal(
        client, forge_fields(challenge, bob.sign(text, namespace))
    )
    # An edited challenge, signed as edited.
    edited = dict(challenge, challenge=text.replace("clean-air", "dirty-air"))
    assert "changed" in refusal(
        client, forge_fields(edited, alice.sign(edited["challenge"], namespace))
    )
    # The challenge as issued, but a signature of an edited one.
    assert "not of this challenge" in refusal(
        client, forge_fields(challenge, alice.sign(text + " and more", namespace))
    )
    # Alice's challenge claimed for Bob, with Bob's key.
    assert "another account" in refusal(
        client, forge_fields(challenge, bob.sign(text, namespace), username="bob")
    )
    # A key that is not on the account's list any more.
    github.keys["alice"] = [bob.public]
    assert "not one of this account" in refusal(
        client, forge_fields(challenge, alice.sign(text, namespace))
    )
    github.keys["alice"] = [alice.public]
    # Not a signature at all, and garbage in the armor.
    assert "not an SSH signature" in refusal(client, forge_fields(challenge, "hello"))
    armor = "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----"
    assert "cannot be read" in refusal(client, forge_fields(challenge, armor))
    # Not a challenge of ours.
    assert "not a challenge" in refusal(
        client, forge_fields(dict(challenge, challenge="sign me"), alice.sign("sign me", namespace))
    )
    # After all that, the genuine signature still works, once.
    genuine = forge_fields(challenge, alice.sign(text, namespace))
    assert sign_api(client, name="Alice", **genuine).status_code == 202
    assert "used already" in sign_api(client, name="Alice", **genuine).json()["error"]


def test_an_expired_challenge_is_refused_and_purged(client, open_letter, github, keys):
    github.keys["alice"] = [keys["ed25519"].public]
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])

    with time_machine.travel(timezone.now() + timedelta(minutes=12)):
        assert "expired" in refusal(client, forge_fields(challenge, signature))
        purge()
    assert not ForgeChallenge.objects.exists()


def test_a_forge_that_fails_is_a_message_not_a_500(client, open_letter, github, keys, settings):
    challenge = challenge_for(client, username="nobody")
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    assert "has no user nobody" in refusal(
        client, forge_fields(challenge, signature, username="nobody")
    )
    github.keys["alice"] = []
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    assert "lists no SSH keys" in refusal(client, forge_fields(challenge, signature))
    github.close()  # the forge is down
    assert "could not be reached" in refusal(client, forge_fields(challenge, signature))
    # The challenge was not spent by the failures: once the forge is back, it works.
    back = Forge()
    back.keys["alice"] = [keys["ed25519"].public]
    settings.FORGE_URLS = {**settings.FORGE_URLS, "github": back.url}
    try:
        assert (
            sign_api(client, name="Alice", **forge_fields(challenge, signature)).status_code == 202
        )
    finally:
        back.close()


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"forge": "sourceforge", "username": "alice"}, "github, gitlab or codeberg"),
        ({"forge": "github", "username": "../etc/passwd"}, "user name"),
        ({"forge": "github", "username": "a b"}, "user name"),
        ({"forge": "github", "username": ""}, "user name"),
        ({"forge": "github"}, "as strings"),
        ({"forge": "github", "username": 7}, "as strings"),
        ({"forge": "github", "username": "alice", "key": "x"}, "Unknown fields"),
    ],
)
def test_bad_challenge_requests_get_a_clear_400(client, open_letter, github, payload, message):
    response = client.post(
        f"{API}/forge-challenges", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not ForgeChallenge.objects.exists()
    assert not github.requests  # nothing was fetched for a bad name


def test_bad_signing_fields_get_field_errors(client, open_letter, github):
    response = sign_api(client, name="Alice", forge="github", forge_username="alice")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"challenge", "ssh_signature"}
    response = sign_api(client, name="Alice", forge="github", challenge=7)
    assert response.status_code == 400


def test_a_letter_that_verifies_by_domain_takes_no_forge_accounts(client, organizer, github):
    make_letter([organizer], domains="example.com", organization="Example")
    response = client.post(
        f"{API}/forge-challenges",
        json.dumps({"forge": "github", "username": "alice"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "example.com" in response.json()["error"]
    assert "forge-link" not in client.get("/l/clean-air/").content.decode()


def test_a_hidden_forge_signer_is_shown_without_the_account(client, open_letter, github, keys):
    github.keys["alice"] = [keys["ed25519"].public]
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])

    signed_and_counted(client, forge_fields(challenge, signature), display="hidden")

    [listed] = client.get(f"{API}/signatures").json()["signatures"]
    assert listed["verification"] == "verified GitHub account"
    assert listed["name"] is None
    row = Signature.objects.get()
    assert row.forge_username == "" and row.forge_fingerprint == ""
    # Nothing in the database names the account or its key: not even in hashes' neighbours.
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        dump = []
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            dump.append(repr(cursor.fetchall()))
    text = "\n".join(dump)
    assert "alice" not in text.lower().replace("alice maintainer", "")
    assert keys["ed25519"].fingerprint not in text


def test_a_count_only_forge_signer_keeps_no_account_at_all(client, open_letter, github, keys):
    github.keys["alice"] = [keys["ed25519"].public]
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    signed_and_counted(client, forge_fields(challenge, signature), display="count")
    row = Signature.objects.get()
    assert (row.forge_username, row.forge_fingerprint, row.sealed) == ("", "", None)
    assert row.forge == "github"
    open_letter.refresh_from_db()
    assert open_letter.verified_count == 1


def test_one_signature_per_account_whatever_the_case_of_its_name(client, open_letter, github, keys):
    github.keys["alice"] = [keys["ed25519"].public]
    receipts = []
    for name in ("alice", "ALICE"):
        challenge = challenge_for(client, username=name)
        signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
        receipts.append(sign_api(client, name="Alice", **forge_fields(challenge, signature, name)))
    settle()
    apply_deltas()
    assert Signature.objects.count() == 1
    open_letter.refresh_from_db()
    assert open_letter.signature_count == 1
    # Both private links manage the one signature (each proved the account).
    assert Receipt.objects.filter(signature=Signature.objects.get()).count() == 2


def test_the_account_with_an_email_too_confirms_by_mail(client, open_letter, github, keys):
    from tests.conftest import last_token

    github.keys["alice"] = [keys["ed25519"].public]
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])

    response = signed_and_counted(
        client, forge_fields(challenge, signature), email="alice@example.org"
    )

    assert response.status_code == 202
    assert response.json() == {"status": "pending_confirmation"}
    assert Signature.objects.get().status == Signature.Status.PENDING
    client.post(f"/v/{last_token()}")
    apply_deltas()
    open_letter.refresh_from_db()
    assert (open_letter.signature_count, open_letter.verified_count) == (1, 1)
    # The same account again, with another address: still one signature for the account.
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    signed_and_counted(client, forge_fields(challenge, signature), email="other@example.org")
    assert Signature.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_for_one_account_make_one_signature(github, keys, organizer):
    letter = make_letter([organizer])
    github.keys["alice"] = [keys["ed25519"].public]
    # Two challenges, two genuine signatures, sent at the same moment (and recorded by two
    # workers at once).
    pairs = []
    for _ in range(2):
        challenge = challenge_for(Client())
        pairs.append(
            forge_fields(
                challenge, keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
            )
        )

    def send(fields):
        return sign_api(Client(), name="Alice", **fields).status_code

    assert in_threads(send, pairs, 2, together=True) == [202, 202]
    from undersigned.signatures import services

    in_threads(lambda _: services.record_intake(), [0, 1], 2, together=True)
    settle()
    apply_deltas()
    assert Signature.objects.filter(letter=letter).count() == 1
    assert Letter.objects.get(pk=letter.pk).signature_count == 1
    # And one challenge used by two requests at once: one wins.
    challenge = challenge_for(Client())
    fields = forge_fields(
        challenge, keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    )
    assert sorted(in_threads(send, [fields, fields], 2, together=True)) == [202, 400]


def test_the_page_flow_without_javascript(client, open_letter, github, keys):
    """The forms the page serves, as a browser without scripts posts them."""
    github.keys["alice"] = [keys["ed25519"].public]
    page = client.get("/l/clean-air/").content.decode()
    assert 'href="/l/clean-air/forge/"' in page
    step_one = client.post("/l/clean-air/forge/", {"forge": "github", "username": "alice"})
    assert step_one.status_code == 200
    html = step_one.content.decode()
    form = step_one.context["form"]
    text = form.initial["challenge"]
    assert text in html and "ssh-keygen -Y sign" in html and "Set-Content -NoNewline" in html
    fields = page_fields(text, keys["ed25519"], name="", display="public")
    again = client.post("/l/clean-air/forge/", fields)  # no name: the form again, with errors
    assert again.status_code == 400
    assert "Enter your name" in again.content.decode() or "required" in again.content.decode()
    assert text in again.content.decode()  # the challenge is still shown
    done = client.post("/l/clean-air/forge/", {**fields, "name": "Alice Maintainer"})
    assert done.status_code == 200
    assert 'id="private-link"' in done.content.decode()
    assert done["Cache-Control"] == "private, no-store"
    settle()
    apply_deltas()
    assert Letter.objects.get(pk=open_letter.pk).signature_count == 1


def test_too_many_challenges_from_one_network_are_refused(open_letter, github, settings):
    settings.RATE_LIMIT_ALLOW = []
    client = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [
        client.post(
            f"{API}/forge-challenges",
            json.dumps({"forge": "github", "username": "alice"}),
            content_type="application/json",
        ).status_code
        for _ in range(forge.ATTEMPTS_PER_HOUR + 1)
    ]
    assert statuses[:-1] == [201] * forge.ATTEMPTS_PER_HOUR
    assert statuses[-1] == 400
    assert ForgeChallenge.objects.count() == forge.ATTEMPTS_PER_HOUR


def test_the_export_carries_the_account_and_a_hidden_one_only_with_the_key(
    client, open_letter, github, keys, organizer
):
    from undersigned.accounts.services import add_key
    from undersigned.lib import sealing
    from undersigned.signatures import export

    private, public = sealing.generate_keypair()
    add_key(organizer, public, via="command")
    github.keys["alice"] = [keys["ed25519"].public]
    github.keys["bob"] = [keys["bob"].public]
    for user, display in (("alice", "public"), ("bob", "hidden")):
        challenge = challenge_for(client, username=user)
        signature = keys["ed25519" if user == "alice" else "bob"].sign(
            challenge["challenge"], challenge["namespace"]
        )
        signed_and_counted(client, forge_fields(challenge, signature, user), display=display)

    def accounts(private_key=None):
        rows = json.loads("".join(export.export(open_letter, "json", private_key)))
        return sorted(
            (row["display"], row["forge"], row["forge_username"], row["forge_fingerprint"])
            for row in rows["signatures"]
        )

    alice = ("public", "github", "alice", keys["ed25519"].fingerprint)
    assert accounts() == [("hidden", "github", "", ""), alice]
    assert accounts(private) == [("hidden", "github", "bob", keys["bob"].fingerprint), alice]


def test_a_forge_account_shown_after_n_appears_with_the_name(client, organizer, github, keys):
    from tests.conftest import last_token

    make_letter([organizer], public_after_choices="2")
    github.keys["alice"] = [keys["ed25519"].public]
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    signed_and_counted(
        client, forge_fields(challenge, signature), display="threshold", public_after=2
    )
    [waiting] = client.get(f"{API}/signatures").json()["signatures"]
    assert (waiting["name"], waiting["verification"]) == (None, "verified GitHub account")
    assert Signature.objects.get().forge_username == ""

    sign_api(client, name="Second Signer", email="second@example.org")
    settle()
    client.post(f"/v/{last_token()}")
    apply_deltas()
    cache.clear()
    recent.clear()

    shown = {row["name"]: row for row in client.get(f"{API}/signatures").json()["signatures"]}
    assert shown["Alice Maintainer"]["verification"] == "github.com/alice"
    assert Signature.objects.get(forge="github").forge_fingerprint == keys["ed25519"].fingerprint


def test_hiding_a_forge_signer_takes_the_account_out_of_plain_sight(
    client, open_letter, github, keys, organizer
):
    from undersigned.accounts.services import add_key
    from undersigned.lib import sealing
    from undersigned.signatures import services

    private, public = sealing.generate_keypair()
    add_key(organizer, public, via="command")
    github.keys["alice"] = [keys["ed25519"].public]
    challenge = challenge_for(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    response = signed_and_counted(client, forge_fields(challenge, signature))
    receipt = response.json()["receipt_url"].rsplit("/s/", 1)[1]

    assert services.change_display(receipt, "hidden")
    row = Signature.objects.get()
    assert (row.forge_username, row.forge_fingerprint) == ("", "")
    opened = sealing.unseal(row.sealed, private)
    assert opened["forge_account"] == "github.com/alice"
    assert opened["forge_fingerprint"] == keys["ed25519"].fingerprint
    assert row.verification == "verified GitHub account"


# --- committing to a pledge as a forge account ----------------------------------------------


@pytest.fixture
def forge_pledge(organizer):
    """A verified-only pledge that names no domains: code-forge accounts only."""
    from tests.test_pledges import make_pledge

    return make_pledge(slug="leave", threshold=2, verified_only=True)


def pledge_challenge(client, username="alice") -> dict:
    response = client.post(
        "/api/v1/pledges/leave/forge-challenges",
        json.dumps({"forge": "github", "username": username}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def commit_api(client, **fields):
    return client.post(
        "/api/v1/pledges/leave/commitments", json.dumps(fields), content_type="application/json"
    )


def test_a_forge_account_commits_to_a_pledge_through_the_api(client, forge_pledge, github, keys):
    from undersigned.pledges.deciding import decide
    from undersigned.pledges.models import Commitment, Pledge

    github.keys["alice"] = [keys["ed25519"].public]
    github.keys["bob"] = [keys["bob"].public]
    challenge = pledge_challenge(client)
    assert "sign pledge leave" in challenge["challenge"]
    # A letter's challenge does not serve for a pledge, nor the other way round.
    make_letter()
    letter_challenge = challenge_for(client)
    forged = keys["ed25519"].sign(letter_challenge["challenge"], letter_challenge["namespace"])
    refused = commit_api(client, name="Alice", **forge_fields(letter_challenge, forged))
    assert refused.status_code == 400 and "another account or letter" in refused.json()["error"]

    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    response = commit_api(client, name="Alice", **forge_fields(challenge, signature))
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "committed"
    assert "/ps/" in response.json()["receipt_url"]
    # Email alone is refused on a forge-only pledge; both at once are refused too.
    email_only = commit_api(client, name="Eve", email="eve@example.org")
    assert email_only.status_code == 400 and "Codeberg account" in email_only.json()["error"]
    both = commit_api(
        client, name="Eve", email="eve@example.org", **forge_fields(challenge, signature)
    )
    assert both.status_code == 400
    decide()
    assert Pledge.objects.get().commitment_count == 1
    assert Pledge.objects.get().verified_count == 1
    bob = pledge_challenge(client, "bob")
    bob_signature = keys["bob"].sign(bob["challenge"], bob["namespace"])
    commit_api(client, name="Bob", **forge_fields(bob, bob_signature, username="bob"))
    decide()
    assert Pledge.objects.get().status == Pledge.Status.MET
    assert Commitment.objects.filter(forge="github").count() == 2


def test_a_pledge_that_names_domains_takes_no_forge_accounts(client, github, organizer):
    from tests.test_pledges import make_pledge

    make_pledge(slug="leave", domains=("example.com",))
    response = client.post(
        "/api/v1/pledges/leave/forge-challenges",
        json.dumps({"forge": "github", "username": "alice"}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "example.com" in response.json()["error"]
    assert client.get("/p/leave/forge/").status_code == 409
    assert "forge-link" not in client.get("/p/leave/").content.decode()


def test_committing_as_a_forge_account_on_the_page_without_javascript(
    client, forge_pledge, github, keys
):
    from undersigned.pledges.deciding import decide
    from undersigned.pledges.models import Pledge

    github.keys["alice"] = [keys["ed25519"].public]
    assert 'href="/p/leave/forge/"' in client.get("/p/leave/").content.decode()
    step_one = client.post("/p/leave/forge/", {"forge": "github", "username": "alice"})
    assert step_one.status_code == 200
    text = step_one.context["form"].initial["challenge"]
    assert "email" not in step_one.context["form"].fields
    fields = page_fields(text, keys["ed25519"], name="Alice Maintainer", display="hidden")
    done = client.post("/p/leave/forge/", fields)
    assert done.status_code == 200, done.content
    receipt = done.context["receipt"]
    assert f"/ps/{receipt}" in done.content.decode()
    decide()
    assert Pledge.objects.get().commitment_count == 1
    # The private link withdraws it before the decision: the count drops.
    withdrawn = client.post(f"/ps/{receipt}", {"action": "withdraw-confirmed"})
    assert withdrawn.status_code == 200
    decide()
    assert Pledge.objects.get().commitment_count == 0


def test_a_forge_committer_may_wait_for_n_and_bad_n_is_a_field_error(
    client, forge_pledge, github, keys
):
    from undersigned.pledges.models import Commitment

    github.keys["alice"] = [keys["ed25519"].public]
    challenge = pledge_challenge(client)
    signature = keys["ed25519"].sign(challenge["challenge"], challenge["namespace"])
    fields = forge_fields(challenge, signature)
    missing = commit_api(client, name="Alice", display="threshold", **fields)
    assert missing.status_code == 400 and "public_after" in missing.json()["fields"]
    done = commit_api(client, name="Alice", display="threshold", public_after=50, **fields)
    assert done.status_code == 202, done.content
    waiting = Commitment.objects.get()
    assert (waiting.display, waiting.public_after, waiting.name) == ("threshold", 50, "")


def test_a_letter_paused_between_the_two_steps_says_so_on_the_form(
    client, open_letter, github, keys
):
    """A kill switch turned on while the signer runs ssh-keygen: the form comes back with
    the reason, not an error page."""
    github.keys["alice"] = [keys["ed25519"].public]
    step_one = client.post("/l/clean-air/forge/", {"forge": "github", "username": "alice"})
    text = step_one.context["form"].initial["challenge"]
    Letter.objects.filter(pk=open_letter.pk).update(
        signing_paused=True, pause_message="Paused while we look into a flood."
    )
    recent.clear()
    fields = page_fields(text, keys["ed25519"], name="Alice Maintainer", display="public")
    response = client.post("/l/clean-air/forge/", fields)
    assert response.status_code == 400
    assert "Paused while we look into a flood." in response.content.decode()
    assert not Signature.objects.exists()


def test_a_challenge_row_holds_nothing_that_could_be_tested_against_an_account(
    client, open_letter, github
):
    """A challenge lives up to ten minutes, dated to the minute: whoever holds the database
    and the secret must not be able to tell whose it is (and so when someone tried to sign)."""
    from django.db import connection as db

    challenge_for(client)
    with db.cursor() as cursor:
        columns = [
            c.name
            for c in db.introspection.get_table_description(cursor, "signatures_forgechallenge")
        ]
    assert sorted(columns) == ["expires_at", "id", "nonce_hash"]
    assert ForgeChallenge.objects.get().nonce_hash not in json.dumps(challenge_for(client, "bob"))
