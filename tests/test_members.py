"""Members-only letters: outsiders see a teaser; a one-time link to an address at the
organization opens the letter for that browser session, for that letter only."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import drain, make_letter
from undersigned.letters.models import MemberPass
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db

SECRET_TEXT = "We ask for **one** thing"  # from the body that make_letter writes


@pytest.fixture
def members_letter(organizer):
    return make_letter(
        [organizer],
        slug="inside",
        title="Cancel Project Nightjar",
        visibility="members",
        organization="Example Corp",
        domains="example.com",
    )


def pass_link() -> str:
    body = OutgoingEmail.objects.filter(kind="member-pass").latest("id").body_text
    return body.split("/m/")[1].split()[0]


def become_member(client, letter, email="ada@example.com") -> None:
    response = client.post(f"/l/{letter.slug}/members/", {"email": email})
    assert response.status_code == 200 and "Check your email" in response.content.decode()
    assert client.post(f"/m/{pass_link()}").status_code == 302


def test_an_outsider_sees_a_teaser_without_text_list_or_form(client, members_letter):
    Signature.objects.create(
        letter=members_letter, name="Visible Vera", status="confirmed", email_hash="a" * 64
    )
    html = client.get("/l/inside/").content.decode()
    assert "Cancel Project Nightjar" in html and "Example Corp" in html
    assert "one</strong> thing" not in html and "Visible Vera" not in html
    assert 'name="name"' not in html and 'name="email"' in html  # only the membership form
    assert 'id="signature-count"' in html  # counts stay public


def test_an_outsider_cannot_sign_by_posting_directly(client, members_letter):
    response = client.post("/l/inside/", {"name": "Eve", "email": "eve@example.com"})
    assert "one</strong> thing" not in response.content.decode()
    assert not Signature.objects.exists() and not OutgoingEmail.objects.exists()


def test_an_address_outside_the_organization_gets_a_clear_error(client, members_letter):
    response = client.post("/l/inside/members/", {"email": "eve@elsewhere.org"})
    assert response.status_code == 400
    assert "Use your address at example.com" in response.content.decode()
    assert not MemberPass.objects.exists() and not OutgoingEmail.objects.exists()


def test_the_pass_mail_is_discreet_and_its_link_survives_scanners(client, members_letter):
    client.post("/l/inside/members/", {"email": "ada@example.com"})
    mail = OutgoingEmail.objects.get()
    text = " ".join([mail.from_email, mail.subject, mail.body_text]).lower()
    for secret in ("nightjar", "inside", "example corp", "letter"):
        assert secret not in text
    token = pass_link()
    scanner = Client()
    assert scanner.get(f"/m/{token}").status_code == 200
    assert MemberPass.objects.count() == 1  # the GET spent nothing
    assert "one</strong> thing" not in scanner.get("/l/inside/").content.decode()


def test_a_member_reads_and_signs_in_one_mail_round_trip_and_is_verified(client, members_letter):
    become_member(client, members_letter)
    assert not MemberPass.objects.exists()  # single use
    html = client.get("/l/inside/").content.decode()
    assert "one</strong> thing" in html and 'name="name"' in html
    assert 'name="email"' not in html  # the pass proved the address
    assert 'value="hidden" id="id_display_1" checked' in html  # hidden by default
    response = client.post("/l/inside/", {"name": "Ada", "display": "hidden"})
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    receipt = response.content.decode().split('id="private-link" href="')[1].split('"')[0]
    drain()
    signature = Signature.objects.get()
    assert signature.is_counted and signature.verified_domain == "example.com"
    assert OutgoingEmail.objects.count() == 1  # the pass, and no second mail
    members_letter.refresh_from_db()
    assert (members_letter.signature_count, members_letter.verified_count) == (1, 1)
    assert Client().get(receipt.removeprefix("http://127.0.0.1:8000")).status_code == 200
    # The session kept the address's keyed hash until the member signed, never the address.
    from django.contrib.sessions.models import Session

    for session in Session.objects.all():
        assert "ada" not in str(session.get_decoded()) and "ada" not in session.session_data


def test_signing_again_in_a_new_member_session_changes_nothing(client, members_letter):
    become_member(client, members_letter)
    client.post("/l/inside/", {"name": "Ada", "display": "hidden"})
    drain()
    again = Client()
    become_member(again, members_letter)
    response = again.post("/l/inside/", {"name": "Ada Byron", "display": "public"})
    assert response.status_code == 200
    drain()
    signature = Signature.objects.get()
    assert signature.display == "hidden" and signature.is_counted
    assert signature.receipts.count() == 2  # the second private link manages the same one


def test_a_member_must_prove_an_address_at_the_organization(client, members_letter):
    response = client.post("/l/inside/members/", {"email": "ada@gmail.com"})
    assert response.status_code == 400
    assert "Use your address at example.com" in response.content.decode()
    assert not MemberPass.objects.exists()


def test_a_used_pass_cannot_open_the_letter_again(client, members_letter):
    client.post("/l/inside/members/", {"email": "ada@example.com"})
    token = pass_link()
    client.post(f"/m/{token}")
    other = Client()
    assert other.post(f"/m/{token}").status_code == 404
    assert "one</strong> thing" not in other.get("/l/inside/").content.decode()


def test_the_members_session_does_not_open_another_letter(client, members_letter, organizer):
    make_letter(
        [organizer],
        slug="other-inside",
        visibility="members",
        organization="Example Corp",
        domains="example.com",
    )
    become_member(client, members_letter)
    assert "one</strong> thing" in client.get("/l/inside/").content.decode()
    assert "one</strong> thing" not in client.get("/l/other-inside/").content.decode()


def test_organizers_read_their_members_letter(client, members_letter, organizer):
    client.force_login(organizer)
    assert "one</strong> thing" in client.get("/l/inside/").content.decode()


def test_the_api_keeps_members_letters_closed_but_shows_the_count(client, members_letter):
    base = "/api/v1/letters/inside"
    assert client.get(f"{base}/signatures").status_code == 403
    post = client.post(
        f"{base}/signatures",
        {"name": "Ada", "email": "ada@example.com"},
        content_type="application/json",
    )
    assert post.status_code == 403 and "members" in post.json()["error"]
    assert client.get(f"{base}/count").json()["signature_count"] == 0
    assert not Signature.objects.exists()


def test_organizers_can_hide_the_count_from_outsiders(client, members_letter):
    members_letter.hide_count = True
    members_letter.save()
    assert client.get("/api/v1/letters/inside/count").status_code == 403
    assert client.get("/api/v1/letters/inside").json()["signature_count"] is None
    assert 'id="signature-count"' not in client.get("/l/inside/").content.decode()
    become_member(client, members_letter)
    assert 'id="signature-count"' in client.get("/l/inside/").content.decode()


def test_the_command_line_creates_a_members_letter(tmp_path, organizer):
    from django.core.management import call_command

    body = tmp_path / "body.md"
    body.write_text("Inside.")
    call_command(
        "letter",
        "create",
        "cli-inside",
        "--title",
        "T",
        "--body-file",
        str(body),
        "--organization",
        "Example Corp",
        "--domain",
        "Example.com",
        "--domain",
        "example.co.uk",
        "--visibility",
        "members",
        "--publish",
    )
    from undersigned.letters.models import Letter

    letter = Letter.objects.get(slug="cli-inside")
    assert letter.domain_list == ["example.com", "example.co.uk"] and letter.members_only
    assert letter.mail_is_discreet
