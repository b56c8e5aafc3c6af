"""Update mails, only to those who asked (issue 14): the address kept encrypted under the
letter's key and nowhere readable; one mail per subscriber and event, even through a worker
killed with SIGKILL mid-run; the weekly cap; a test send; discreet mail; and the one-click
unsubscribe of RFC 8058, by a POST with nothing but its body."""

from __future__ import annotations

import json
import signal
import time

import pytest
from django.test import Client

from tests.conftest import confirmation_token, drain, mails_to, make_letter, settle
from tests.test_life import sign_and_confirm
from tests.test_privacy import database_dump
from undersigned.letters import services as letter_services
from undersigned.letters import timeline
from undersigned.letters.services import LetterError
from undersigned.outbox.models import OutgoingEmail
from undersigned.subscriptions.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

ADDRESS = "Wanda.Subscriber@Canary-Mail.example"


def news_to(address: str) -> list[OutgoingEmail]:
    return mails_to(address, "news") + mails_to(address, "news-discreet")


def unsubscribe_url(row: OutgoingEmail) -> str:
    return json.loads(row.headers)["List-Unsubscribe"].strip("<>")


@pytest.fixture
def subscribers(letter):
    """Three signers: one asked for updates, one did not, one asked and never confirmed."""
    sign_and_confirm(letter, ADDRESS, updates=True, n=1)
    sign_and_confirm(letter, "quiet@example.org", n=2)
    Client(REMOTE_ADDR="198.51.100.3").post(
        f"/l/{letter.slug}/",
        {"name": "Pending", "email": "pending@example.org", "display": "public", "updates": "on"},
    )
    drain()
    return letter


def test_the_box_is_offered_and_off_by_default(letter):
    html = Client().get(f"/l/{letter.slug}/").content.decode()
    assert 'name="updates"' in html and "Email me updates about this letter" in html
    box = html.split('name="updates"')[0].rsplit("<input", 1)[1] + html.split('name="updates"')[1]
    assert "checked" not in box.split(">")[0]


def test_only_confirmed_signers_who_asked_get_the_update(subscribers, organizer, smtp_server):
    letter = subscribers
    assert Subscription.objects.count() == 2  # the confirmed one, and the pending one's
    timeline.post_update(letter, "We **met** the council.", mail=True, actor=organizer, via="web")
    timeline.post_update(letter, "Not mailed.", actor=organizer, via="web")
    settle()
    [row] = news_to(ADDRESS)
    assert not news_to("quiet@example.org") and not news_to("pending@example.org")
    drain()
    [(to, message)] = [m for m in smtp_server.messages if m[1]["Subject"].startswith("Update")]
    assert [a.lower() for a in to] == [ADDRESS.lower()] and "met" in smtp_server.text(message)
    url = message["List-Unsubscribe"].strip("<>")
    assert "/u/" in url and url == unsubscribe_url(row)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in smtp_server.text(message)  # and a link in the text, for any mail client


def test_the_unsubscribe_address_is_https_where_the_site_is(subscribers, organizer, settings):
    settings.BASE_URL = "https://letters.example"
    timeline.post_update(subscribers, "News.", mail=True, actor=organizer, via="web")
    settle()
    assert unsubscribe_url(news_to(ADDRESS)[0]).startswith("https://letters.example/u/")


def test_one_click_unsubscribe_by_the_rfc_8058_post_alone(subscribers, organizer):
    letter = subscribers
    timeline.post_update(letter, "First.", mail=True, actor=organizer, via="web")
    settle()
    url = unsubscribe_url(news_to(ADDRESS)[0]).split("/u/", 1)[1]
    # What a mail scanner does: GET. A button, and nothing changes.
    scanner = Client(enforce_csrf_checks=True)
    shown = scanner.get(f"/u/{url}")
    assert shown.status_code == 200 and "<form" in shown.content.decode()
    assert Subscription.objects.receiving(letter).count() == 1
    # What a mail client does: a POST with only List-Unsubscribe=One-Click; no cookie, no form.
    client = Client(enforce_csrf_checks=True)
    done = client.post(
        f"/u/{url}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200 and not client.cookies
    assert not Subscription.objects.filter(signature__status="confirmed").exists()
    timeline.post_update(letter, "Second.", mail=True, actor=organizer, via="web")
    settle()
    assert len(news_to(ADDRESS)) == 1  # no more
    # A used or made-up link answers the same, and changes nothing.
    for token in (url, url[:-2] + "xx", "nonsense"):
        assert client.post(f"/u/{token}").status_code == 200


def test_each_subscriber_gets_each_mailing_once_however_often_the_fan_out_runs(
    subscribers, organizer
):
    event_update = timeline.post_update(subscribers, "Once.", mail=True, actor=organizer, via="web")
    assert event_update
    for _ in range(3):
        settle()
    assert len(news_to(ADDRESS)) == 1 and Delivery.objects.count() == 1


def test_the_weekly_cap_is_shown_and_holds(subscribers, organizer, client, settings):
    settings.UPDATE_MAILS_PER_WEEK = 2
    client.force_login(organizer)
    page = client.get(f"/organize/{subscribers.slug}/").content.decode()
    assert "can be mailed 2 more times" in page
    for n in range(2):
        form = {"body": f"Update {n}.", "mail": "on", "action": "post"}
        assert client.post(f"/organize/{subscribers.slug}/update/", form).status_code == 302
    assert (
        "can be mailed 0 more times"
        in client.get(f"/organize/{subscribers.slug}/").content.decode()
    )
    refused = client.post(
        f"/organize/{subscribers.slug}/update/", {"body": "Third.", "mail": "on", "action": "post"}
    )
    assert refused.status_code == 409 and "as often as this site allows" in refused.content.decode()
    assert not subscribers.updates.filter(body="Third.").exists()  # nothing half-done
    with pytest.raises(LetterError, match="as often as this site allows"):
        timeline.record_response(
            subscribers,
            by="Pat",
            said_on=subscribers.published_at.date(),
            quote="No.",
            sources=["https://example.com/"],
            mail=True,
            via="command",
        )
    # Without mail, posting goes on.
    assert (
        client.post(
            f"/organize/{subscribers.slug}/update/", {"body": "Third.", "action": "post"}
        ).status_code
        == 302
    )
    settle()
    assert len(news_to(ADDRESS)) == 2


def test_a_test_send_goes_to_the_organizer_alone(subscribers, organizer, client):
    client.force_login(organizer)
    form = {"body": "Draft of an update.", "mail": "on", "action": "test"}
    response = client.post(f"/organize/{subscribers.slug}/update/", form)
    assert response.status_code == 200 and "olivia@example.org" in response.content.decode()
    assert "Draft of an update." in response.content.decode()  # the form keeps the text
    settle()
    [test] = mails_to("olivia@example.org", "update-test")
    assert "Draft of an update." in test.body_text
    assert not news_to(ADDRESS) and not subscribers.updates.exists()


def test_discreet_letters_mail_a_neutral_notice_with_a_link(organizer):
    inside = make_letter(
        [organizer], slug="inside", title="Cancel the border contract", discreet_mail=True
    )
    sign_and_confirm(inside, ADDRESS, updates=True)
    timeline.post_update(inside, "The vice president answered.", mail=True, via="command")
    settle()
    [row] = news_to(ADDRESS)
    assert row.kind == "news-discreet"
    for text in (row.subject, row.body_text, row.body_html):
        assert (
            "border" not in text.lower() and "vice president" not in text and "inside" not in text
        )
    link = next(w for w in row.body_text.split() if "/e/" in w)
    event_id = link.rsplit("/e/", 1)[1]
    followed = Client().get(f"/e/{event_id}")
    assert followed.status_code == 302 and followed["Location"] == f"/l/inside/#e-{event_id}"


def test_the_address_is_deleted_on_withdrawal_and_with_the_letters_data(organizer, letter):
    receipt = sign_and_confirm(letter, ADDRESS, updates=True)
    other = make_letter([organizer], slug="other")
    sign_and_confirm(other, "second@example.org", updates=True, n=2)
    assert Subscription.objects.count() == 2
    Client().post(f"/s/{receipt}", {"action": "withdraw-confirmed"})
    assert not Subscription.objects.filter(letter=letter).exists()
    letter_services.close(other, via="command")
    letter_services.destroy_key(other)
    assert not Subscription.objects.exists()


def test_the_signer_stops_update_mails_from_their_private_page(letter):
    receipt = sign_and_confirm(letter, ADDRESS, updates=True)
    page = Client().get(f"/s/{receipt}").content.decode()
    assert "Stop update mails" in page
    Client().post(f"/s/{receipt}", {"action": "stop-updates"})
    assert not Subscription.objects.exists()
    assert "Stop update mails" not in Client().get(f"/s/{receipt}").content.decode()


def test_signing_again_with_the_box_unticked_keeps_what_was_confirmed(letter):
    """A second submission (by anyone who knows the address) subscribes nobody until its own
    link is confirmed."""
    sign_and_confirm(letter, "plain@example.org")
    Client(REMOTE_ADDR="198.51.100.9").post(
        f"/l/{letter.slug}/",
        {"name": "Someone", "email": "plain@example.org", "display": "public", "updates": "on"},
    )
    drain()
    assert not Subscription.objects.filter(change__isnull=True).exists()
    timeline.post_update(letter, "News.", mail=True, via="command")
    drain()
    assert not news_to("plain@example.org")


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_subscriber_address(organizer):
    letter = make_letter([organizer])
    sign_and_confirm(letter, ADDRESS, updates=True)
    timeline.post_update(letter, "News.", mail=True, via="command")
    settle()
    assert news_to(ADDRESS)  # the worker can read it, with the instance secret
    dump = database_dump()
    for text in (ADDRESS, ADDRESS.lower(), "Wanda.Subscriber", "canary-mail"):
        assert text.lower() not in dump.lower(), text
    assert Subscription.objects.get().email not in ("", ADDRESS)


# --- a worker killed with SIGKILL in the middle of a mailing --------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_mailing_mails_each_subscriber_once(organizer, processes):
    from tests.test_faults import inboxes, recipients, wait_until
    from undersigned.signatures import services

    letter = make_letter([organizer])
    addresses = [f"reader{i}@example.org" for i in range(500)]
    for address in addresses:
        services.sign(letter, services.SignatureData(name="A reader", email=address, updates=True))
    settle()
    for row in OutgoingEmail.objects.filter(kind="confirm"):
        assert services.confirm(confirmation_token(row.body_text)).letter_id == letter.pk
    OutgoingEmail.objects.all().delete()  # only the update's mail from here
    assert Subscription.objects.receiving(letter).count() == 500

    with inboxes(1) as [inbox]:
        timeline.post_update(letter, "The council answered.", mail=True, via="command")
        first = processes.worker(inbox)
        deadline = time.monotonic() + 60
        while not Delivery.objects.exists():  # the first chunk of recipients is queued
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        queued = Delivery.objects.count()
        assert 0 < queued < 500, queued  # killed mid-run
        # What was queued and what was recorded as queued agree: the same transaction.
        assert OutgoingEmail.objects.filter(kind="news").count() == queued

        second = processes.worker(inbox)
        wait_until(
            lambda: (
                Delivery.objects.count() == 500
                and not OutgoingEmail.objects.exclude(status="sent").exists()
            ),
            60,
            "the second worker mails the rest",
        )
        log = processes.stop(second)
    received = recipients(inbox)
    # The organizer is mailed the milestones passed (100 and 300), at most once each.
    assert received.pop(organizer.email, 0) <= 2
    assert set(received) == set(addresses)
    assert max(received.values()) == 1, received.most_common(3)
    assert OutgoingEmail.objects.filter(kind="news").count() == 500
    assert "Traceback" not in log, log


@pytest.fixture
def processes(tmp_path):
    from tests.test_faults import Processes

    started = Processes(tmp_path)
    yield started
    started.close()
