"""Nothing left behind (issue 13), tried as a thief with the data directory would: after a
signer signs (asking for update mails), confirms, changes their mind, is mailed an update and
the worker has done its rounds, no address, local part or hidden name is readable anywhere in
the database's files (SQLite's file and write-ahead log; PostgreSQL's heap files and WAL
segments), and no value in a dump dates a signer finer than the hour."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.conftest import drain, mails_to, make_letter, settle
from tests.test_privacy import database_dump
from undersigned.accounts.models import OrganizerKey
from undersigned.db import maintenance
from undersigned.letters import timeline
from undersigned.lib import sealing
from undersigned.signatures import affiliations
from undersigned.signatures.models import Signature
from undersigned.subscriptions.models import Subscription

ADDRESS = "Zqx.Canary7@Vanity-Canary.example"
HIDDEN_NAME = "Zebulon Canaryname"
FORMER_NAME = "Phineas Switcheroo"  # public at first, then hidden
FORMER_AFFILIATION = "Canarysoc Guild"  # theirs, counted by organization while public
MEMBER = "Quentin.Canarymember@company.example"
CANARIES = [
    ADDRESS,
    ADDRESS.lower(),
    "zqx.canary7",
    "Zqx.Canary7",
    "vanity-canary.example",
    HIDDEN_NAME,
    "Canaryname",
    FORMER_NAME,
    "Switcheroo",
    FORMER_AFFILIATION,
    "Canarysoc",
    MEMBER.lower(),
    "canarymember",
]
SIGNED_AT = "2026-06-22 13:42:37.715+00:00"  # the second a hidden signer must not be dated to


def sign_as_a_careful_signer_would(letter, members):
    """A hidden signature, one that goes from public to hidden, a member's: each confirmed,
    and mailed by the worker."""
    Client(REMOTE_ADDR="203.0.113.77").post(
        f"/l/{letter.slug}/",
        {
            "name": HIDDEN_NAME,
            "email": ADDRESS,
            "display": "hidden",
            "comment": "I saw it.",
            "updates": "on",  # the address is kept for update mails: encrypted, never readable
        },
    )
    Client(REMOTE_ADDR="203.0.113.78").post(
        f"/l/{letter.slug}/",
        {
            "name": FORMER_NAME,
            "email": "phineas@example.org",
            "display": "public",
            "affiliation": FORMER_AFFILIATION,
        },
    )
    settle()
    for address in (ADDRESS, "phineas@example.org"):
        body = mails_to(address)[-1].body_text
        assert Client().post(f"/v/{body.split('/v/')[1].split()[0]}").status_code == 200
    receipt = mails_to("phineas@example.org")[-1].body_text.split("/s/")[1].split()[0]
    drain()  # mails sent and scrubbed, counted
    affiliations.count_all()  # by organization: a group of one, as k is 1 here
    assert affiliations.groups(letter) == {FORMER_AFFILIATION: 1}
    changed = Client().post(f"/s/{receipt}", {"action": "display", "display": "hidden"})
    assert changed.status_code == 200
    member = Client()
    member.post(f"/l/{members.slug}/members/", {"email": MEMBER})
    settle()
    token = mails_to(MEMBER)[-1].body_text.split("/m/")[1].split()[0]
    member.post(f"/m/{token}")
    assert (
        member.post(f"/l/{members.slug}/", {"name": "Quentin", "display": "hidden"}).status_code
        == 200
    )
    drain()
    affiliations.count_all()
    assert affiliations.groups(letter) == {}
    maintenance.checkpoint()  # what the worker does every half minute
    assert Signature.objects.filter(status="confirmed").count() == 3


@pytest.fixture
def signed(organizer, smtp_server, settings):
    settings.SMALLEST_GROUP = 1  # so that one affiliation is a group of its own
    OrganizerKey.objects.register(organizer, sealing.generate_keypair()[1])
    letter = make_letter([organizer], slug="contract", organization="Company")
    members = make_letter(
        [organizer], slug="inside", visibility="members", domains="company.example"
    )
    with time_machine.travel(SIGNED_AT, tick=False):
        sign_as_a_careful_signer_would(letter, members)
    # Later, the organizers mail an update to those who asked for one.
    timeline.post_update(letter, "We handed it in.", mail=True, via="command")
    settle()
    assert mails_to(ADDRESS, "news")  # queued to the subscriber, then sent and scrubbed
    drain()
    maintenance.checkpoint()
    assert Subscription.objects.count() == 1
    return letter


def read_database_files(files: list[Path]) -> list[tuple[Path, bytes]]:
    """(path, contents) of each file that still exists when read: PostgreSQL removes and
    rebuilds some as it likes (its relation cache, ``pg_internal.init``), and a file that is
    gone holds nothing."""
    contents = []
    for path in files:
        try:
            contents.append((path, path.read_bytes()))
        except FileNotFoundError:
            continue
    return contents


def files_of_the_database() -> list[Path]:
    if connection.vendor == "sqlite":
        return [path for path in Path(settings.DATA_DIR).rglob("*") if path.is_file()]
    data = Path(os.environ["PG_DATA_DIR"])
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # the heap pages on disk, not only in the WAL
    return [p for p in (data / "base").rglob("*") if p.is_file()] + [
        p for p in (data / "pg_wal").rglob("*") if p.is_file()
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_address_or_hidden_name_is_readable_in_the_database_files(signed):
    contents = read_database_files(files_of_the_database())
    assert contents and sum(len(data) for _, data in contents) > 100_000  # the real thing
    found = []
    for path, data in contents:
        for canary in CANARIES:
            for encoded in (canary.encode(), canary.encode("utf-16-le")):
                if encoded in data:
                    found.append((str(path), canary))
    assert not found, found


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_value_in_a_dump_dates_a_signer_finer_than_the_hour(signed):
    dump = database_dump()
    assert "2026-06-22 13:00:00" in dump  # the signatures, to the hour
    for finer in ("2026-06-22 13:42", "2026-06-22T13:42", "13:42:37"):
        assert finer not in dump, [line for line in dump.splitlines() if finer in line][:5]


@pytest.mark.django_db(transaction=True)
def test_the_data_directory_is_for_the_services_user_alone(letter):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite keeps the database in the data directory")
    Client().post(f"/l/{letter.slug}/", {"name": "Ada", "email": "ada@example.org"})
    settle()
    data = Path(settings.DATA_DIR)
    assert data.stat().st_mode & 0o077 == 0
    files = [path for path in data.iterdir() if path.name.startswith("test-")]
    assert files and all(path.stat().st_mode & 0o077 == 0 for path in files), [
        (path.name, oct(path.stat().st_mode)) for path in files
    ]
