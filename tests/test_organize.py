"""Organizer pages: only a letter's organizers can edit, publish, close and export it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from undersigned.letters.models import Letter
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db

NEW = {
    "title": "Fix the bridge",
    "slug": "fix-the-bridge",
    "addressed_to": "The Mayor",
    "body": "Please fix it.",
    "visibility": "public",
    "deadline": "",
}


@pytest.fixture
def as_organizer(client, organizer):
    client.force_login(organizer)
    return client


def test_pages_need_a_log_in(client, letter):
    response = client.get("/organize/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_organizer_logs_in_with_a_password(client, organizer, settings):
    settings.REQUIRE_SECOND_FACTOR = False  # with it (the default): tests/test_two_factor.py
    response = client.post("/accounts/login/", {"username": "olivia", "password": "pw-olivia-123"})
    assert response.status_code == 302
    assert "Your letters" in client.get("/organize/").content.decode()


def test_an_organizer_creates_previews_publishes_and_closes_a_letter(as_organizer, organizer):
    response = as_organizer.post("/organize/new/", NEW)
    assert response.status_code == 302
    letter = Letter.objects.get(slug="fix-the-bridge")
    assert letter.status == Letter.Status.DRAFT
    assert list(letter.organizers.all()) == [organizer]
    assert as_organizer.get("/l/fix-the-bridge/").status_code == 404  # drafts are private

    preview = as_organizer.get("/organize/fix-the-bridge/preview/")
    assert preview.status_code == 200 and "Please fix it." in preview.content.decode()
    assert 'name="email"' not in preview.content.decode()

    as_organizer.post("/organize/fix-the-bridge/publish/")
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.OPEN
    assert as_organizer.get("/l/fix-the-bridge/").status_code == 200

    asked = as_organizer.post("/organize/fix-the-bridge/close/")  # a confirmation step first
    assert asked.status_code == 200 and "Close it" in asked.content.decode()
    assert Letter.objects.get(slug="fix-the-bridge").status == Letter.Status.OPEN
    as_organizer.post("/organize/fix-the-bridge/close/", {"confirm": "yes"})
    letter.refresh_from_db()
    assert letter.status == Letter.Status.CLOSED and letter.closed_at
    assert "no longer takes signatures" in as_organizer.get("/l/fix-the-bridge/").content.decode()


def test_publish_needs_post_and_close_asks_first(as_organizer, letter):
    assert as_organizer.get(f"/organize/{letter.slug}/publish/").status_code == 405
    assert as_organizer.get(f"/organize/{letter.slug}/close/").status_code == 200  # it asks
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.OPEN


def test_a_bad_letter_form_comes_back_with_field_errors(as_organizer, letter):
    response = as_organizer.post("/organize/new/", {**NEW, "slug": letter.slug, "title": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html and "already exists" in html
    assert Letter.objects.count() == 1


def test_the_organizer_sees_the_counted_and_the_held(as_organizer, letter):
    for i, (status, flag) in enumerate([("confirmed", ""), ("confirmed", "rate-client")]):
        Signature.objects.create(
            letter=letter, name=f"S{i}", status=status, flag=flag, email_hash=f"{i:064x}"
        )
    Signature.objects.create(letter=letter, name="P", status="pending", email_hash="f" * 64)
    call_command("reconcile")
    html = as_organizer.get(f"/organize/{letter.slug}/").content.decode()
    assert '<dd id="counted">1</dd>' in html
    assert '<dd id="held-count">1</dd>' in html
    assert "many signatures from one network within minutes" in html
    assert "pending" not in html.lower().replace("signatures waiting", "")


def test_a_co_organizer_can_manage_the_letter(client, co_organizer, letter):
    client.force_login(co_organizer)
    assert client.get(f"/organize/{letter.slug}/").status_code == 200


def test_an_outsider_cannot_see_or_touch_the_letter(client, outsider, letter):
    client.force_login(outsider)
    for url in ("", "preview/", "export.csv"):
        assert client.get(f"/organize/{letter.slug}/{url}").status_code == 404
    assert client.post(f"/organize/{letter.slug}/close/").status_code == 404
    assert client.post(f"/organize/{letter.slug}/", {**NEW, "title": "Hijacked"}).status_code == 404
    letter.refresh_from_db()
    assert letter.status == Letter.Status.OPEN and letter.title != "Hijacked"


def test_exports_stream_confirmed_signatures(as_organizer, letter):
    Signature.objects.create(letter=letter, name="Ada", status="confirmed", email_hash="a" * 64)
    Signature.objects.create(letter=letter, name="Pat", status="pending", email_hash="b" * 64)
    response = as_organizer.get(f"/organize/{letter.slug}/export.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="clean-air-signatures.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["name"] for r in rows] == ["Ada"]

    response = as_organizer.get(f"/organize/{letter.slug}/export.json")
    data = json.loads(b"".join(response.streaming_content))
    assert [r["name"] for r in data["signatures"]] == ["Ada"]
    assert as_organizer.get(f"/organize/{letter.slug}/export.xml").status_code == 404


def test_the_operator_admin_lists_letters_and_signatures(admin_client, letter):
    Signature.objects.create(
        letter=letter, name="Ada", status="confirmed", email_hash="a" * 64, ip_hash="b" * 64
    )
    assert admin_client.get("/admin/letters/letter/").status_code == 200
    page = admin_client.get("/admin/signatures/signature/")
    assert page.status_code == 200 and "Ada" in page.content.decode()


def test_an_organizer_adds_a_public_key_and_the_letter_page_lists_it(as_organizer, letter):
    from undersigned.accounts.models import OrganizerKey
    from undersigned.lib import sealing

    page = as_organizer.get(f"/organize/{letter.slug}/").content.decode()
    assert "not kept at all" in page
    bad = as_organizer.post("/organize/keys/", {"public_key": "not a key"})
    assert bad.status_code == 400 and not OrganizerKey.objects.exists()
    _, public = sealing.generate_keypair()
    assert (
        as_organizer.post("/organize/keys/", {"public_key": public, "label": "laptop"}).status_code
        == 302
    )
    again = as_organizer.post("/organize/keys/", {"public_key": public})
    assert again.status_code == 400 and "registered already" in again.content.decode()
    key = OrganizerKey.objects.get()
    page = as_organizer.get(f"/organize/{letter.slug}/").content.decode()
    assert key.key_id in page and "not kept at all" not in page
