"""The promises of THREAT_MODEL.md, each checked so that it fails if the property breaks."""

from __future__ import annotations

import logging
import os
import pickle
import re
import sqlite3
import subprocess
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.conftest import drain, last_token, make_letter, settle
from undersigned.accounts.models import OrganizerKey
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import DailySalt, Intake, Receipt, Signature
from undersigned.signatures.retention import purge

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def sign(
    client, letter, email, display="public", name="Ada Byron", affiliation="Analytical Society"
):
    form = {
        "name": name,
        "email": email,
        "affiliation": affiliation,
        "display": display,
        "department": "Engineering",
        "comment": "Count me in.",
    }
    response = client.post(f"/l/{letter.slug}/", form)
    settle()  # the worker records it (and queues its mail)
    return response


def manage_link(kind="confirm") -> str:
    body = OutgoingEmail.objects.filter(kind__startswith=kind).latest("id").body_text
    return body.split("/s/")[1].split()[0]


def database_dump() -> str:
    """Everything the database holds, as an operator's backup would: SQLite's `.dump`, or
    `pg_dump` of the test database."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        with sqlite3.connect(settings["NAME"]) as db:
            return "\n".join(db.iterdump())
    pg_dump = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "pg_dump")
    return subprocess.run(
        [
            pg_dump,
            "-h",
            settings["HOST"],
            "-p",
            str(settings["PORT"]),
            "-U",
            settings["USER"],
            settings["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def cache_contents() -> bytes:
    return b"".join(pickle.dumps(value) for value in getattr(cache, "_cache", {}).values())


@pytest.mark.django_db(transaction=True)
def test_canary_a_hidden_signer_leaves_no_trace_but_the_sealed_box(
    letter, organizer, smtp_server, caplog
):
    private, public = sealing.generate_keypair()
    OrganizerKey.objects.register(organizer, public)
    email, name, affiliation, ip = (
        "Canary.Q7X+tag@Example.org",
        "Zebulon Canaryname",
        "Quillfeather Labs",
        "203.0.113.77",
    )
    caplog.set_level(logging.DEBUG)
    client = Client(REMOTE_ADDR=ip)
    assert (
        sign(client, letter, email, "hidden", name=name, affiliation=affiliation).status_code == 302
    )
    assert client.post(f"/v/{last_token()}").status_code == 200
    drain()
    smtp_server.wait_for(1)  # the mail went out, so the outbox row could be scrubbed

    signature = Signature.objects.get()
    assert signature.is_confirmed and signature.ip_hash  # the abuse tools still have a hash
    # Two signatures' worth of public pages, the API and an organizer's export.
    organizer_client = Client()
    organizer_client.force_login(organizer)
    public = "".join(
        [
            client.get(f"/l/{letter.slug}/").content.decode(),
            client.get(f"/api/v1/letters/{letter.slug}/signatures").content.decode(),
            client.get(f"/api/v1/letters/{letter.slug}").content.decode(),
            b"".join(
                organizer_client.get(f"/organize/{letter.slug}/export.csv").streaming_content
            ).decode(),
        ]
    )
    dump = database_dump()
    assert "one_signature_per_email_per_letter" in dump or "CREATE" in dump  # a real dump
    assert signature.email_hash in dump
    cached = cache_contents().decode("latin-1")
    # Our logs only: the test's SMTP server (the outside world) logs what it receives.
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    for needle in (
        email,
        email.lower(),
        "canary.q7x",
        "Canary.Q7X",
        name,
        "Canaryname",
        affiliation,
        ip,
    ):
        for where, text in (
            ("dump", dump),
            ("logs", logs),
            ("cache", cached),
            ("public pages", public),
        ):
            assert needle not in text, f"{needle!r} found in the {where}"
    assert "Engineering" in public  # the department the signer chose to show

    opened = sealing.unseal(signature.sealed, private)
    assert opened == {"name": name, "affiliation": affiliation, "comment": "Count me in."}


@pytest.mark.django_db
def test_each_organizer_key_opens_a_hidden_signature(client, letter, organizer, co_organizer):
    keys = {}
    for user in (organizer, co_organizer):
        private, public = sealing.generate_keypair()
        OrganizerKey.objects.register(user, public)
        keys[user.username] = private
    sign(client, letter, "ada@example.org", "hidden")
    sealed = Signature.objects.get().sealed
    for private in keys.values():
        assert sealing.unseal(sealed, private)["name"] == "Ada Byron"
    outsider_private, _ = sealing.generate_keypair()
    with pytest.raises(sealing.SealingError):
        sealing.unseal(sealed, outsider_private)


@pytest.mark.django_db
def test_a_deactivated_organizers_key_gets_no_more_hidden_names(
    client, letter, organizer, co_organizer
):
    """An operator who deactivates a taken-over account stops new names being sealed to its
    key (what was sealed to it before stays sealed to it)."""
    keys = {}
    for user in (organizer, co_organizer):
        private, public = sealing.generate_keypair()
        OrganizerKey.objects.register(user, public)
        keys[user.username] = private
    co_organizer.is_active = False
    co_organizer.save()
    sign(client, letter, "ada@example.org", "hidden")
    sealed = Signature.objects.get().sealed
    assert sealing.unseal(sealed, keys[organizer.username])["name"] == "Ada Byron"
    with pytest.raises(sealing.SealingError):
        sealing.unseal(sealed, keys[co_organizer.username])


@pytest.mark.django_db
def test_count_only_signers_keep_no_name_at_all(client, letter, organizer):
    OrganizerKey.objects.register(organizer, sealing.generate_keypair()[1])
    sign(client, letter, "ada@example.org", "count")
    signature = Signature.objects.get()
    assert (signature.name, signature.affiliation, signature.comment, signature.sealed) == (
        "",
        "",
        "",
        None,
    )


@pytest.mark.django_db
def test_no_email_address_is_stored_with_a_signature(client, letter):
    sign(client, letter, "ada@example.org")
    row = Signature.objects.values().get()
    assert not any("ada@example.org" in str(value) for value in row.values())


def test_the_address_waits_in_the_intake_only_until_the_worker_records_it(
    client, letter, smtp_server
):
    client.post(f"/l/{letter.slug}/", {"name": "Ada Byron", "email": "ada@example.org"})
    assert Intake.objects.get().email == "ada@example.org"  # what the mail will need
    drain()  # recorded, mailed, scrubbed
    assert not Intake.objects.exists() and Signature.objects.count() == 1
    assert "ada@example.org" not in database_dump()


@pytest.mark.django_db
def test_sent_mail_is_scrubbed(client, letter, smtp_server):
    sign(client, letter, "ada@example.org")
    assert OutgoingEmail.objects.get().to == "ada@example.org"
    drain()
    row = OutgoingEmail.objects.get()
    assert row.status == OutgoingEmail.Status.SENT
    assert (row.to, row.subject, row.body_text, row.body_html) == ("", "", "", "")


@pytest.mark.django_db
def test_times_are_kept_to_the_hour(client, letter):
    with time_machine.travel("2026-03-04 10:02:37 +0000", tick=False):
        sign(client, letter, "ada@example.org")
        client.post(f"/v/{last_token()}")
    signature = Signature.objects.get()
    for value in (signature.created_at, signature.confirmed_at):
        assert (value.minute, value.second, value.microsecond) == (0, 0, 0)


# --- enumeration ------------------------------------------------------------------------------


def _comparable(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in {"date"}}
    return response.status_code, headers, CSRF.sub("CSRF", response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["form", "api"])
def test_enumeration_new_and_known_addresses_look_the_same(client, letter, route):
    def attempt(email):
        if route == "api":
            return client.post(
                f"/api/v1/letters/{letter.slug}/signatures",
                {"name": "Probe", "email": email},
                content_type="application/json",
            )
        return sign(client, letter, email, name="Probe")

    for i in range(5):  # confirmed signers
        sign(Client(), letter, f"known{i}@example.org")
        Client().post(f"/v/{last_token()}")
    sign(Client(), letter, "pending@example.org")  # one still pending

    known = [_comparable(attempt(f"known{i}@example.org")) for i in range(5)]
    known.append(_comparable(attempt("pending@example.org")))
    new = [_comparable(attempt(f"new{i}@example.org")) for i in range(6)]
    assert known == new
    assert len({repr(r) for r in known + new}) == 1


@pytest.mark.django_db
def test_enumeration_a_wrong_receipt_looks_like_a_withdrawn_one(client, letter):
    sign(client, letter, "ada@example.org")
    receipt = manage_link()
    client.post(f"/s/{receipt}", {"action": "withdraw-confirmed"})
    withdrawn, unknown = client.get(f"/s/{receipt}"), client.get("/s/" + "x" * 43)
    assert _comparable(withdrawn) == _comparable(unknown)
    assert withdrawn.status_code == 404


# --- mail scanners ----------------------------------------------------------------------------


def _state() -> list:
    return [
        list(Signature.objects.values()),
        list(Receipt.objects.values()),
        list(Letter.objects.values("signature_count")),
    ]


@pytest.mark.django_db
def test_mail_scanners_change_nothing(client, letter):
    sign(client, letter, "ada@example.org")
    token, receipt = last_token(), manage_link()
    before = _state()
    scanner = Client()
    for url in (f"/v/{token}", f"/s/{receipt}"):
        assert scanner.get(url).status_code == 200
        assert scanner.head(url).status_code == 200
    drain()
    assert _state() == before


# --- self-service -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_withdrawal_erases_the_signature_and_the_count_drops(client, letter):
    sign(client, letter, "ada@example.org")
    client.post(f"/v/{last_token()}")
    receipt = manage_link()
    drain()
    assert Letter.objects.get().signature_count == 1

    asked = client.post(f"/s/{receipt}", {"action": "withdraw"})  # a second step first
    assert asked.status_code == 200 and "Withdraw your signature?" in asked.content.decode()
    assert Signature.objects.exists()
    page = client.post(f"/s/{receipt}", {"action": "withdraw-confirmed"})
    assert page.status_code == 200 and "Your signature was withdrawn" in page.content.decode()
    assert not Signature.objects.exists() and not Receipt.objects.exists()
    drain()
    assert Letter.objects.get().signature_count == 0
    # The address can sign again, from scratch.
    sign(client, letter, "ada@example.org")
    assert OutgoingEmail.objects.latest("id").kind == "confirm"


@pytest.mark.django_db
def test_the_already_signed_mail_carries_a_working_manage_link(client, letter):
    sign(client, letter, "ada@example.org")
    client.post(f"/v/{last_token()}")
    sign(client, letter, "ada@example.org")
    receipt = manage_link("already-signed")
    assert "Your signature" in client.get(f"/s/{receipt}").content.decode()


@pytest.mark.django_db
def test_a_signer_hides_their_name_and_shows_it_again(client, letter, organizer):
    private, public = sealing.generate_keypair()
    OrganizerKey.objects.register(organizer, public)
    sign(client, letter, "ada@example.org")
    client.post(f"/v/{last_token()}")
    receipt = manage_link()

    client.post(f"/s/{receipt}", {"action": "display", "display": "hidden"})
    signature = Signature.objects.get()
    assert signature.display == "hidden" and signature.name == ""
    assert sealing.unseal(signature.sealed, private)["name"] == "Ada Byron"
    assert "Ada Byron" not in client.get(f"/l/{letter.slug}/").content.decode()

    response = client.post(f"/s/{receipt}", {"action": "display", "display": "public"})
    assert response.status_code == 400  # going public needs the name typed again
    client.post(f"/s/{receipt}", {"action": "display", "display": "public", "name": "Ada B."})
    signature.refresh_from_db()
    assert (signature.display, signature.name, signature.sealed) == ("public", "Ada B.", None)
    assert "Ada B." in client.get(f"/l/{letter.slug}/").content.decode()


# --- verification and discreet mail -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email, subdomains, verified",
    [
        ("ada@example.com", False, "example.com"),
        ("ada@EXAMPLE.com", False, "example.com"),
        ("ada@eu.example.com", False, ""),
        ("ada@eu.example.com", True, "example.com"),
        ("ada@badexample.com", True, ""),
        ("ada@example.org", True, ""),
    ],
)
def test_a_confirmed_address_at_the_organization_is_verified(
    client, organizer, email, subdomains, verified
):
    letter = make_letter(
        [organizer],
        organization="Example Corp",
        domains="example.com",
        include_subdomains=subdomains,
    )
    sign(client, letter, email)
    client.post(f"/v/{last_token()}")
    drain()
    letter.refresh_from_db()
    assert Signature.objects.get().verified_domain == verified
    assert (letter.signature_count, letter.verified_count) == (1, int(bool(verified)))
    assert client.get(f"/api/v1/letters/{letter.slug}").json()["verified_count"] == int(
        bool(verified)
    )
    page = client.get(f"/l/{letter.slug}/").content.decode()
    assert ("verified: works at example.com" in page) == bool(verified)


@pytest.mark.django_db
def test_discreet_mail_names_neither_letter_nor_organizers(client, organizer):
    letter = make_letter(
        [organizer],
        title="Cancel Project Nightjar",
        discreet_mail=True,
        organization="Example Corp",
        domains="example.com",
    )
    sign(client, letter, "ada@example.com")
    sign(client, letter, "ada@example.com")
    for row in OutgoingEmail.objects.all():
        assert row.kind.endswith("-discreet")
        text = " ".join([row.from_email, row.subject, row.body_text, row.body_html]).lower()
        for secret in (
            "nightjar",
            letter.slug,
            "example corp",
            "olivia",
            "riverside",
            "undersigned",
            "letter",
            "sign",
        ):
            assert secret not in text, secret


# --- retention --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_purge_deletes_expired_pending_signatures(client, letter, settings):
    sign(client, letter, "ada@example.org")
    sign(client, letter, "bea@example.org")
    client.post(f"/v/{last_token()}")  # Bea confirms, Ada never does
    assert purge()["expired pending signatures"] == 0
    later = timezone.now() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS + 2)
    with time_machine.travel(later):
        done = purge()
    assert (done["expired pending signatures"], done["spent link times cleared"]) == (1, 1)
    assert list(Signature.objects.values_list("status", "token_expires_at")) == [
        ("confirmed", None)
    ]


@pytest.mark.django_db
def test_purge_forgets_client_addresses_after_the_window(client, letter, settings):
    Client(REMOTE_ADDR="198.51.100.7").post(
        f"/l/{letter.slug}/", {"name": "Ada", "email": "ada@example.org", "display": "public"}
    )
    client.post(f"/v/{last_token()}")
    signature = Signature.objects.get()
    assert signature.ip_hash and DailySalt.objects.count() == 1
    with time_machine.travel(timezone.now() + timedelta(days=settings.IP_HASH_DAYS)):
        purge()
    assert Signature.objects.get().ip_hash  # still inside the window
    with time_machine.travel(timezone.now() + timedelta(days=settings.IP_HASH_DAYS + 1)):
        assert purge()["address hashes cleared"] == 1
    signature.refresh_from_db()
    assert (signature.ip_hash, signature.ip_day) == ("", None)
    assert not DailySalt.objects.exists()


@pytest.mark.django_db
def test_purge_destroys_a_closed_letters_key_after_its_delay(client, letter):
    sign(client, letter, "ada@example.org")
    client.post(f"/v/{last_token()}")
    letter.purge_after_days = 10
    letter.save()
    letter_services.close(letter, via="command")
    with time_machine.travel(timezone.now() + timedelta(days=9)):
        assert purge()["letter keys destroyed"] == 0
    with time_machine.travel(timezone.now() + timedelta(days=11)):
        assert purge()["letter keys destroyed"] == 1
    letter.refresh_from_db()
    assert letter.key_salt == "" and letter.key_destroyed_at
    with pytest.raises(ValueError, match="destroyed"):
        letter.email_hash("ada@example.org")
    assert Signature.objects.count() == 1  # the signature and the count stay


@pytest.mark.django_db
def test_purge_deletes_old_mail_records(client, letter, smtp_server):
    sign(client, letter, "ada@example.org")
    drain()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert purge()["old mail records"] == 1
    assert not OutgoingEmail.objects.exists()


# --- organizers read hidden names offline ---------------------------------------------------


@pytest.mark.django_db
def test_an_organizer_decrypts_hidden_names_in_an_export_with_their_key(
    client, letter, organizer, tmp_path, capsys
):
    import csv
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    private, public = sealing.generate_keypair()
    key_file = tmp_path / "key.json"
    key_file.write_bytes(sealing.protect_private_key(private, "correct horse"))
    passphrase = tmp_path / "pass"
    passphrase.write_text("correct horse\n")
    OrganizerKey.objects.register(organizer, public)
    sign(client, letter, "ada@example.org", "hidden", name="Ada Hidden")
    client.post(f"/v/{last_token()}")
    sign(client, letter, "bob@example.org", "public", name="Bob Public")
    client.post(f"/v/{last_token()}")

    def export(*options):
        call_command("letter", "export", letter.slug, *options)
        return {r["display"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}

    plain = export()
    assert plain["hidden"]["name"] == "" and plain["public"]["name"] == "Bob Public"
    opened = export("--key", str(key_file), "--passphrase-file", str(passphrase))
    assert opened["hidden"]["name"] == "Ada Hidden"
    assert opened["hidden"]["affiliation"] == "Analytical Society"

    other_private, _ = sealing.generate_keypair()
    other = tmp_path / "other.json"
    other.write_bytes(sealing.protect_private_key(other_private, "correct horse"))
    assert (
        export("--key", str(other), "--passphrase-file", str(passphrase))["hidden"]["name"]
        == "(not sealed to this key)"
    )
    passphrase.write_text("wrong\n")
    with pytest.raises(CommandError, match="wrong passphrase"):
        export("--key", str(key_file), "--passphrase-file", str(passphrase))


@pytest.mark.parametrize(
    "remote, forwarded, trusted, expected",
    [
        ("203.0.113.5", "198.51.100.1", "", "203.0.113.5"),  # no proxy trusted: ignore XFF
        ("10.0.0.2", "198.51.100.1", "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.3", "10.0.0.0/8", "198.51.100.1"),
        ("203.0.113.5", "198.51.100.1", "10.0.0.0/8", "203.0.113.5"),  # not from the proxy
    ],
)
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    rf, settings, remote, forwarded, trusted, expected
):
    from undersigned.lib.config import parse_cidrs
    from undersigned.signatures.privacy import client_ip

    settings.TRUSTED_PROXIES = parse_cidrs(trusted, "test")
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
