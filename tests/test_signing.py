"""Signing on the letter page, confirming by link, and what the count shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import Inbox, drain, last_token, query_plan, settle
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Ada Byron",
    "email": "ada@example.org",
    "affiliation": "Analytical Society",
    "department": "",
    "comment": "Yes.",
    "display": "public",
}


def sign(client, letter, **changes):
    return client.post(f"/l/{letter.slug}/", {**FORM, **changes})


def test_it_shows_the_letter_with_its_form_and_count(client, letter):
    response = client.get(f"/l/{letter.slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Clean air for Riverside" in html
    assert "<strong>one</strong>" in html  # Markdown rendered
    for field in ("name", "email", "affiliation", "department", "comment", "display"):
        assert f'name="{field}"' in html
    assert 'id="signature-count"' in html


def test_it_records_a_pending_signature_and_queues_a_confirmation_link(client, letter):
    response = sign(client, letter)
    assert response.status_code == 302
    assert response["Location"] == f"/l/{letter.slug}/signed/"
    assert "Check your email" in client.get(response["Location"]).content.decode()

    settle()  # the worker records it and queues the mail
    signature = Signature.objects.get()
    assert signature.status == Signature.Status.PENDING
    assert signature.name == "Ada Byron"
    mail = OutgoingEmail.objects.get()
    assert mail.kind == "confirm" and mail.to == "ada@example.org"
    token = last_token()
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    assert f"/v/{token}" in mail.body_text
    assert letter.slug not in mail.body_text.split("/v/")[1]
    # Only a hash of the token is stored.
    assert token not in (signature.token_hash or "")
    assert Letter.objects.get().signature_count == 0


def test_it_confirms_with_post_not_get(client, letter):
    sign(client, letter)
    token = last_token()

    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    assert "Confirm" in page.content.decode()
    assert Signature.objects.get().status == Signature.Status.PENDING
    client.head(f"/v/{token}")
    assert Signature.objects.get().status == Signature.Status.PENDING

    done = client.post(f"/v/{token}")
    assert done.status_code == 200
    assert "confirmed" in done.content.decode()
    assert Signature.objects.get().status == Signature.Status.CONFIRMED


def test_the_count_moves_only_when_the_counter_runs(client, letter):
    sign(client, letter)
    client.post(f"/v/{last_token()}")
    letter.refresh_from_db()
    assert letter.signature_count == 0  # confirming never writes the letter row
    drain()
    letter.refresh_from_db()
    assert letter.signature_count == 1
    assert ">1</strong>" in client.get(f"/l/{letter.slug}/").content.decode()


def test_a_double_clicked_confirm_counts_once(client, letter):
    sign(client, letter)
    token = last_token()
    first = client.post(f"/v/{token}")
    second = client.post(f"/v/{token}")
    assert first.status_code == second.status_code == 200
    drain()
    letter.refresh_from_db()
    assert letter.signature_count == 1


def test_it_hides_whether_email_already_signed(client, letter):
    first = sign(client, letter)
    client.post(f"/v/{last_token()}")
    again = sign(client, letter, email="ADA@example.org ", name="Someone Else")
    settle()
    assert again.status_code == first.status_code == 302
    assert again["Location"] == first["Location"]
    kinds = list(OutgoingEmail.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["confirm", "already-signed"]
    assert Signature.objects.count() == 1
    assert Signature.objects.get().name == "Ada Byron"


def test_signing_again_while_pending_sends_a_link_for_the_new_details(client, letter):
    sign(client, letter)
    old = last_token()
    sign(client, letter, name="Ada King")
    new = last_token()
    assert old != new
    assert "Ada King" in client.get(f"/v/{new}").content.decode()  # what it will publish
    assert client.post(f"/v/{new}").status_code == 200
    signature = Signature.objects.get()
    assert signature.is_confirmed and signature.name == "Ada King"
    assert client.post(f"/v/{old}").status_code == 200  # "already confirmed": no change
    assert Signature.objects.get().name == "Ada King"


def test_gmail_dots_and_tags_are_one_signer(client, letter):
    sign(client, letter, email="ada.byron+letters@gmail.com")
    client.post(f"/v/{last_token()}")
    sign(client, letter, email="AdaByron@googlemail.com")
    settle()
    assert Signature.objects.count() == 1
    assert OutgoingEmail.objects.latest("id").kind == "already-signed"


def test_an_expired_link_cannot_confirm(client, letter, settings):
    sign(client, letter)
    token = last_token()
    later = timezone.now() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS + 1, minutes=1)
    with time_machine.travel(later):
        assert client.get(f"/v/{token}").status_code == 410
        response = client.post(f"/v/{token}")
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert Signature.objects.get().status == Signature.Status.PENDING


def test_a_link_for_a_letter_closed_meanwhile_cannot_confirm(client, letter):
    sign(client, letter)
    letter_services.close(letter, via="command")
    response = client.post(f"/v/{last_token()}")
    assert response.status_code == 409
    assert Signature.objects.get().status == Signature.Status.PENDING


def test_a_deadline_closes_signing(client, letter):
    letter.deadline = timezone.now() + timedelta(days=1)
    letter.save()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        response = sign(client, letter)
        assert response.status_code == 409
        assert "closed" in response.content.decode()
    assert not Signature.objects.exists()


@pytest.mark.parametrize("display", ["hidden", "count"])
def test_names_of_hidden_and_count_signers_are_never_shown(client, letter, display):
    sign(client, letter, name="Zebulon Quist", affiliation="Secret Corp", display=display)
    client.post(f"/v/{last_token()}")
    drain()
    page = client.get(f"/l/{letter.slug}/").content.decode()
    api = client.get(f"/api/v1/letters/{letter.slug}/signatures").content.decode()
    for shown in (page, api):
        assert "Zebulon" not in shown and "Secret Corp" not in shown
    assert ">1</strong>" in page


def test_public_signatories_are_paginated_by_cursor(client, letter):
    Signature.objects.bulk_create(
        Signature(
            letter=letter,
            name=f"Signer {n:03d}",
            email_hash=f"{n:064x}",
            status=Signature.Status.CONFIRMED,
        )
        for n in range(120)
    )
    seen, url, pages = [], f"/l/{letter.slug}/", 0
    while url and pages < 10:
        html = client.get(url).content.decode()
        seen += [line for line in html.split('"name">')[1:]]
        pages += 1
        url = None
        if 'rel="next"' in html:
            url = (
                f"/l/{letter.slug}/"
                + html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
            )
            url = url.split("#")[0]
    names = [chunk.split("<")[0] for chunk in seen]
    assert pages == 3
    assert sorted(names) == [f"Signer {n:03d}" for n in range(120)]


def test_the_mail_reaches_a_real_smtp_server(client, letter, smtp_server):
    sign(client, letter)
    drain()
    [(recipients, message)] = smtp_server.wait_for(1)
    assert recipients == ["ada@example.org"]
    assert "Confirm your signature" in message["Subject"]
    assert "/v/" in Inbox.text(message)
    assert OutgoingEmail.objects.get().status == OutgoingEmail.Status.SENT


@pytest.mark.parametrize("after", [None, 2**40])
def test_a_page_of_signatories_walks_an_index_in_order_and_sorts_nothing(letter, after):
    from undersigned.signatures.models import public_order

    plan = query_plan(public_order(letter, after)[:51])
    assert "signature_order" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_the_purge_finds_expired_links_through_the_expiry_index(letter):
    plan = query_plan(Signature.objects.expired())
    assert "signature_expiry" in plan, plan


def test_each_signer_gets_their_own_links_though_the_mail_is_rendered_once(client, letter):
    sign(client, letter, email="one@example.org")
    first = last_token()
    sign(client, letter, email="two@example.org")
    second = last_token()
    assert first != second
    mails = list(OutgoingEmail.objects.order_by("id"))
    assert [m.to for m in mails] == ["one@example.org", "two@example.org"]
    for mail in mails:
        for part in (mail.subject, mail.body_text, mail.body_html):
            assert "\ue000" not in part  # every slot was filled
    assert first in mails[0].body_html and first not in mails[1].body_html
    assert client.post(f"/v/{second}").status_code == 200
    assert Signature.objects.filter(status=Signature.Status.CONFIRMED).count() == 1
    assert client.post(f"/v/{first}").status_code == 200
    assert Signature.objects.filter(status=Signature.Status.CONFIRMED).count() == 2


def test_a_new_title_shows_in_the_next_mail(client, letter):
    sign(client, letter, email="one@example.org")
    settle()
    letter.title = "Cleaner air for Riverside"
    letter_services.edit(letter, ["title"], via="command")
    sign(client, letter, email="two@example.org")
    settle()
    first, second = OutgoingEmail.objects.order_by("id")
    assert "Cleaner air" not in first.body_text and "Cleaner air" in second.body_text


def test_the_thank_you_page_is_personal_for_a_logged_in_organizer(client, letter, organizer):
    sign(client, letter, email="one@example.org")
    anonymous = client.post(f"/v/{last_token()}").content.decode()
    assert "Thank you" in anonymous and "Your letters" not in anonymous
    sign(client, letter, email="two@example.org")
    client.force_login(organizer)
    personal = client.post(f"/v/{last_token()}").content.decode()
    assert "Thank you" in personal and "Your letters" in personal
