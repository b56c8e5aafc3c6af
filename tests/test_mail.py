"""Every kind of mail as a person reads it: a complete HTML document in the shared frame, links
that say what they do, and a plain-text part that carries the same addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

from tests.conftest import Inbox, drain, make_letter
from tests.test_signing import sign
from undersigned.outbox import mail
from undersigned.outbox.models import OutgoingEmail

pytestmark = pytest.mark.django_db

EMAILS = Path(mail.__file__).resolve().parent.parent / "templates" / "emails"
KINDS = sorted(p.name.removesuffix("-body.html") for p in EMAILS.glob("*-body.html"))
TOKEN = "tok3nXYZ0123456789abcdefghij"


class Document(HTMLParser):
    """What a mail's HTML holds: its tags, its title, and each anchor's href and text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.title = ""
        self.anchors: list[tuple[str, str]] = []
        self._in: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("a", "title"):
            self._in.append(tag)
            self._text = []

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()
            text = " ".join("".join(self._text).split())
            if tag == "title":
                self.title = text
            else:
                self.anchors.append(
                    (next(a for t, a in reversed(self.tags) if t == "a")["href"], text)
                )

    def handle_data(self, data):
        if self._in:
            self._text.append(data)


def every_kind(letter, discreet_letter, organizer) -> None:
    """Queue one mail of each kind through the functions the app calls."""
    event = SimpleNamespace(pk=7, at=datetime(2026, 5, 1, 14, tzinfo=UTC))
    update = SimpleNamespace(body="We met the board.", body_html="<p>We met the board.</p>")
    news = {
        "entry": {"kind": "update.posted", "update": update, "body": update.body},
        "permalink": f"{settings.BASE_URL}/l/{letter.slug}/#e-7",
        "neutral_link": f"{settings.BASE_URL}/e/7",
    }
    for one in (letter, discreet_letter):
        mail.send_confirmation("a@example.org", one, TOKEN, TOKEN + "r")
        mail.send_already_signed("a@example.org", one, TOKEN + "r", release=TOKEN)
        mail.send_invitation("a@example.org", one, "editor", TOKEN, organizer)
        mail.send_update_test("a@example.org", one, update)
        mail.send_news("a@example.org", one, event, news, TOKEN + "u")
    mail.send_member_pass("a@example.org", discreet_letter, TOKEN)
    mail.send_tip_activity("a@example.org")
    mail.send_password_reset("a@example.org", organizer, f"/accounts/reset/{TOKEN}/")
    mail.send_login_failures("a@example.org", organizer, 5)
    about = {"event": event, "letter": letter, "user": organizer.get_username()}
    mail.enqueue("key-added", "a@example.org", {**about, "key_id": "SHA256:abc"})
    mail.enqueue("tip-recipient-key-added", "a@example.org", {**about, "key_id": "SHA256:abc"})
    mail.enqueue("tip-recipient-added", "a@example.org", about)
    mail.enqueue("milestone", "a@example.org", {**about, "count": 1000})
    trend = {"hour": event.at, "count": 60, "field": "domain", "key": "example.org"}
    mail.enqueue("trend-alert", "a@example.org", {**about, **trend, "threshold": 50})
    from tests.test_pledges import make_pledge

    pledge = make_pledge(letter=letter)
    pledge.announcement = "Hello, we did it: the projects move on Monday."
    mail.send_pledge_confirmation("a@example.org", pledge, TOKEN, TOKEN + "r")
    mail.send_pledge_already("a@example.org", pledge, TOKEN + "r")
    for what in ("met", "announce", "failed"):
        mail.send_pledge_news(what, ["a@example.org"], pledge)
    decided = {"action": pledge.action, "pledge": pledge.slug, "count": 3, "threshold": 3}
    mail.enqueue("pledge-decided", "a@example.org", {**about, **decided, "met": True, "days": 30})


@pytest.fixture
def rows(letter, organizer) -> dict[str, OutgoingEmail]:
    discreet = make_letter([organizer], slug="inside", title="Inside", discreet_mail=True)
    every_kind(letter, discreet, organizer)
    return {row.kind: row for row in OutgoingEmail.objects.order_by("id")}


def test_every_kind_of_mail_is_covered_here(rows):
    assert sorted(rows) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_every_html_mail_is_a_complete_document_with_lang_and_its_subject_as_title(rows, kind):
    row = rows[kind]
    html = row.body_html
    assert html.lower().startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    doc = Document()
    doc.feed(html)
    tags = {tag: attrs for tag, attrs in reversed(doc.tags)}
    assert tags["html"]["lang"] == "en"
    assert {"head", "body", "title"} <= set(tags)
    assert any(t == "meta" and a.get("charset") == "utf-8" for t, a in doc.tags)
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in doc.tags)
    assert doc.title == row.subject
    # Nothing is fetched when the mail is opened: no images, scripts, styles or frames.
    assert not {"img", "script", "link", "iframe", "object"} & set(tags)
    assert not any("src" in attrs for _, attrs in doc.tags)
    assert "url(" not in html


@pytest.mark.parametrize("kind", KINDS)
def test_links_say_what_they_do_and_the_text_part_gives_their_addresses(rows, kind):
    row = rows[kind]
    doc = Document()
    doc.feed(row.body_html)
    ours = [(href, text) for href, text in doc.anchors if href.startswith(settings.BASE_URL)]
    for href, text in ours:
        assert "://" not in text and "/" not in text and TOKEN not in text, (href, text)
        assert len(text.split()) >= 2, text  # words, not a bare token
        assert href in row.body_text  # the plain part carries the address itself
    if TOKEN in row.body_html:
        assert ours and all(TOKEN not in text for _, text in doc.anchors)
    text = row.body_text
    assert text.strip().startswith(("Hello,", "This is", "The organizers", "In the hour"))
    assert "<p>" not in text and "<a " not in text and "&amp;" not in text


def test_the_signer_mails_name_their_actions(rows):
    doc = Document()
    doc.feed(rows["confirm"].body_html)
    texts = {text for _, text in doc.anchors}
    assert {"Confirm my signature", "Manage or withdraw my signature"} <= texts
    doc = Document()
    doc.feed(rows["confirm-discreet"].body_html)
    assert {text for _, text in doc.anchors} == {"Confirm my address", "Change or undo it"}


def test_a_sent_mail_is_multipart_with_a_text_and_an_html_part(client, letter, smtp_server):
    sign(client, letter)
    drain()
    [(_, message)] = smtp_server.wait_for(1)
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content() == Inbox.text(message)
    doc = Document()
    doc.feed(html.get_content())
    assert doc.title == message["Subject"]
    [(href, _)] = [a for a in doc.anchors if a[1] == "Confirm my signature"]
    assert "/v/" in href and href in plain.get_content()
    assert 'lang="en"' in html.get_content()
