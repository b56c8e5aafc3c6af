"""The breakdown "by organization" (issue 15): public signers by the affiliation they gave,
counted by the worker from the encrypted affiliations, normalized, folded under k, and never
holding a hidden, count-only or members-only signer's affiliation."""

from __future__ import annotations

import json
import secrets
from collections import Counter

import pytest
from django.test import Client

from tests.conftest import drain, last_token, make_letter
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import affiliations
from undersigned.signatures.models import Affiliations, Signature
from undersigned.signatures.retention import purge
from undersigned.worker import JOBS, Worker

pytestmark = pytest.mark.django_db


def sign_and_confirm(letter, n, affiliation, display="public", client=None) -> list[str]:
    """``n`` signers through the API, each confirmed by the link in their mail; returns
    their private links."""
    client = client or Client()
    receipts = []
    for _ in range(n):
        email = f"{secrets.token_hex(4)}@example.org"
        response = client.post(
            f"/api/v1/letters/{letter.slug}/signatures",
            {"name": "A Signer", "email": email, "affiliation": affiliation, "display": display},
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
        assert client.post(f"/v/{last_token()}").status_code == 200
        mail = OutgoingEmail.objects.filter(kind="confirm").latest("id").body_text
        receipts.append(mail.split("/s/")[1].split()[0])
    drain()
    return receipts


def organizations(client, letter) -> dict[str, int]:
    affiliations.count_all()
    return client.get(f"/api/v1/letters/{letter.slug}").json()["breakdown"]["organization"]


def test_public_signers_are_grouped_by_the_organization_they_gave(client, letter):
    for spelling, n in (("Debian", 3), ("debian ", 2), ("  DEBIAN.", 1)):
        sign_and_confirm(letter, n, spelling)
    sign_and_confirm(letter, 5, "Red Hat")
    sign_and_confirm(letter, 5, "Mozilla")
    sign_and_confirm(letter, 2, "Tiny Co")
    sign_and_confirm(letter, 1, "Solo Project")
    sign_and_confirm(letter, 4, "")  # no affiliation: in no group

    # One group under its most common spelling; Tiny Co and Solo Project (3) would single
    # people out, so the smallest shown group (Mozilla, by name) joins them as "other".
    assert organizations(client, letter) == {"Debian": 6, "Red Hat": 5, "other": 8}
    page = client.get(f"/l/{letter.slug}/").content.decode()
    table = page.split('id="breakdown-organization"')[1].split("</table>")[0]
    assert ">Debian<" in table and ">Red Hat<" in table and "Tiny Co" not in table


def test_hidden_and_count_only_signers_affiliations_are_never_counted(client, letter):
    sign_and_confirm(letter, 5, "Secret Corp", display="hidden")
    sign_and_confirm(letter, 5, "Secret Corp", display="count")
    sign_and_confirm(letter, 5, "Open Org")
    assert organizations(client, letter) == {"Open Org": 5}
    page = client.get(f"/l/{letter.slug}/").content.decode()
    assert "Secret Corp" not in page


def test_a_signer_who_hides_their_name_or_withdraws_leaves_the_breakdown(client, letter):
    receipts = sign_and_confirm(letter, 6, "Acme")
    assert organizations(client, letter) == {"Acme": 6}

    hidden = client.post(f"/s/{receipts[0]}", {"action": "display", "display": "hidden"})
    assert hidden.status_code == 200
    client.post(f"/s/{receipts[1]}", {"action": "withdraw-confirmed"})
    drain()
    # 4 left: fewer than k, so no group at all (and no "other" of fewer than k).
    assert organizations(client, letter) == {}
    assert Signature.objects.counted().filter(letter=letter).count() == 5


def test_members_only_letters_show_no_organizations(client, organizer):
    members = make_letter(
        [organizer], slug="inside", visibility="members", domains="company.example"
    )
    Signature.objects.bulk_create(
        Signature(
            letter=members,
            status=Signature.Status.CONFIRMED,
            email_hash=secrets.token_hex(32),
            affiliation="Inner Circle",
        )
        for _ in range(6)
    )
    Letter.objects.filter(pk=members.pk).update(signature_count=6)
    affiliations.count_all()
    assert not Affiliations.objects.filter(letter=members).exists()
    assert affiliations.groups(members) == {}


def add_public(letter, names: Counter[str]) -> None:
    Signature.objects.bulk_create(
        Signature(
            letter=letter,
            status=Signature.Status.CONFIRMED,
            email_hash=secrets.token_hex(32),
            affiliation=name,
        )
        for name, n in names.items()
        for _ in range(n)
    )


def test_a_count_in_small_chunks_over_several_letters_equals_one_pass(organizer):
    first = make_letter([organizer], slug="first")
    second = make_letter([organizer], slug="second")
    add_public(first, Counter({f"Org {i}": 5 + i for i in range(14)} | {"": 7}))
    add_public(second, Counter({"Kernel": 9, "Gnome": 5, "kernel": 3}))

    scan = affiliations.Scan(refresh_seconds=3600)
    steps = 0
    while scan.step(budget=7):  # 7 signers a round: many rounds, across both letters
        steps += 1
        assert steps < 100
    chunked = {letter.slug: affiliations.groups(letter) for letter in (first, second)}
    assert steps > 20
    Affiliations.objects.all().delete()
    affiliations.count_all()
    assert chunked == {letter.slug: affiliations.groups(letter) for letter in (first, second)}
    # The ten largest groups, then "other" (the four smallest, 5 to 8 each).
    assert list(chunked["first"]) == [f"Org {i}" for i in range(13, 3, -1)] + ["other"]
    assert chunked["first"]["other"] == 5 + 6 + 7 + 8
    assert chunked["second"] == {"Kernel": 12, "Gnome": 5}
    # Counted just now: nothing is due again within the refresh time.
    assert scan.step() == 0


def test_the_worker_counts_organizations_a_chunk_at_a_time(organizer, monkeypatch):
    letter = make_letter([organizer], slug="works")
    add_public(letter, Counter({"Acme": 5}))
    monkeypatch.setattr(affiliations, "_scan", affiliations.Scan())
    worker = Worker(jobs=[job for job in JOBS if job.name == "organizations"])
    assert worker.tick() > 0
    assert affiliations.groups(letter) == {"Acme": 5}


def test_the_stored_breakdown_is_encrypted_at_rest(organizer, settings):
    settings.SMALLEST_GROUP = 1
    letter = make_letter([organizer], slug="works")
    add_public(letter, Counter({"Zanzibar Canary Guild": 1}))
    affiliations.count_all()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT groups FROM signatures_affiliations")
        (stored,) = cursor.fetchone()
    assert "Zanzibar" not in stored
    assert json.loads(Affiliations.objects.get().groups) == [["Zanzibar Canary Guild", 1]]


def test_normalized_joins_spellings_of_one_organization():
    spellings = ["ACME Corp.", " acme  corp", "Ａｃｍｅ Corp", "@acme corp", "Acme Corp —"]
    assert {affiliations.normalized(s) for s in spellings} == {"acme corp"}
    assert affiliations.normalized(" -- ") == ""


def test_a_letter_of_countless_affiliations_is_counted_in_bounded_memory(organizer, monkeypatch):
    monkeypatch.setattr(affiliations, "MAX_GROUPS", 20)
    letter = make_letter([organizer], slug="many")
    add_public(letter, Counter({f"Project {i}": 1 for i in range(60)} | {"Big": 8}))
    scan = affiliations.Scan()
    largest = 0
    while scan.step(budget=10):
        if scan.current is not None:
            largest = max(largest, len(scan.current.spellings))
    assert largest <= 20 + 10  # let go of once past 20, a chunk at a time
    assert affiliations.groups(letter) == {"Big": 8, "other": 60}


@pytest.mark.django_db(transaction=True)
def test_a_letter_deleted_while_it_is_counted_is_let_go(organizer):
    letter = make_letter([organizer], slug="gone")
    add_public(letter, Counter({"Acme": 12}))
    scan = affiliations.Scan()
    assert scan.step(budget=5) == 5  # halfway through the letter
    letter.delete()
    while scan.step(budget=5):
        pass
    assert not Affiliations.objects.exists()


def test_the_purge_forgets_the_breakdown_of_a_letter_made_members_only(client, letter):
    sign_and_confirm(letter, 5, "Open Org")
    assert organizations(client, letter) == {"Open Org": 5}
    Letter.objects.filter(pk=letter.pk).update(visibility="members", domains="example.org")
    assert Affiliations.objects.filter(letter=letter).exists()
    assert purge()["breakdowns of members-only letters"] == 1
    assert not Affiliations.objects.filter(letter=letter).exists()
