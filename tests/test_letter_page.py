"""The letter page a reader lands on: the count as its headline, with the goal, the
organizers, the dates and the way to sign before the text; the tags that make a shared link
preview well; the share step after signing and after confirming; one stylesheet for all."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders

from tests.conftest import last_token, make_letter
from undersigned.letters.models import Letter

pytestmark = pytest.mark.django_db

FORM = {"name": "Ada Byron", "email": "ada@example.org", "display": "public"}


class Meta(HTMLParser):
    """The ``<meta>`` tags of a page, by name or property."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = attrs.get("property") or attrs.get("name")
        if tag == "meta" and key:
            self.tags[key] = attrs.get("content") or ""


def meta(html: str) -> dict[str, str]:
    parser = Meta()
    parser.feed(html)
    return parser.tags


def page(client, letter) -> str:
    response = client.get(f"/l/{letter.slug}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_count_and_the_way_to_sign_come_before_the_text(client, letter):
    html = page(client, letter)
    headline = html.index('id="signature-count"')
    button = html.index('id="sign-button"')
    body = html.index('<div class="body">')
    assert html.index("<h1>") < headline < button < body
    assert 'href="#sign"' in html[button - 200 : button + 200]
    assert "To Riverside Council" in html[:body]


def test_the_headline_gives_the_verified_share_with_thousands_grouped(client, organizer):
    letter = make_letter([organizer], slug="big", domains="example.com")
    Letter.objects.filter(pk=letter.pk).update(signature_count=1234, verified_count=1180)
    html = page(client, letter)
    assert re.search(r'id="signature-count"[^>]*>1,234</strong> signed', html)
    assert 'id="verified-count">1,180</span> verified at example.com' in html
    assert "as of <time" in html  # complete without the live counter


def test_it_names_the_organizers_the_date_published_and_the_version(client, organizer):
    letter = make_letter([organizer], slug="named", organized_by="Riverside Parents")
    html = page(client, letter)
    facts = html[: html.index('<div class="body">')]
    assert "Organized by Riverside Parents" in facts
    assert letter.published_at.strftime("%Y-%m-%d") in facts
    assert f"Version {letter.version}" in facts
    anonymous = make_letter([organizer], slug="plain")
    assert "Organized by the organizers" in page(client, anonymous)
    assert Letter.objects.get(slug="plain").to_dict()["organized_by"] == "the organizers"


def test_a_deadline_is_on_the_first_screen(client, organizer):
    from datetime import timedelta

    from django.utils import timezone

    letter = make_letter([organizer], slug="soon", deadline=timezone.now() + timedelta(days=3))
    html = page(client, letter)
    assert html.index('id="deadline"') < html.index('<div class="body">')


def test_the_goal_shows_progress_and_keeps_room_past_it(client, organizer):
    letter = make_letter([organizer], slug="goal", goal=1000)
    Letter.objects.filter(pk=letter.pk).update(signature_count=250)
    html = page(client, letter)
    assert re.search(r'<meter id="progress" min="0" max="1000" value="250"', html)
    assert "25% of the goal of 1,000" in html
    Letter.objects.filter(pk=letter.pk).update(signature_count=1500)
    letter.refresh_from_db()
    assert letter.progress == {"goal": 1000, "scale": 1650, "percent": 100, "reached": True}
    assert letter.to_dict()["goal"] == 1000
    no_goal = make_letter([organizer], slug="no-goal")
    assert 'id="progress"' not in page(client, no_goal)


def test_organizers_set_the_goal_and_their_name_in_the_workspace(client, letter, organizer):
    client.force_login(organizer)
    form = client.get(f"/organize/{letter.slug}/").content.decode()
    assert 'name="goal"' in form and 'name="organized_by"' in form


def test_a_shared_link_previews_with_title_description_and_count(client, organizer):
    letter = make_letter([organizer], slug="shared")
    Letter.objects.filter(pk=letter.pk).update(signature_count=3456)
    tags = meta(page(client, letter))
    assert tags["og:title"] == tags["twitter:title"] == "Clean air for Riverside"
    assert tags["og:type"] == "article"
    assert tags["og:url"].endswith("/l/shared/")
    assert "Riverside Council" in tags["description"] and "3,456" in tags["description"]
    assert tags["og:description"] == tags["description"] == tags["twitter:description"]
    assert tags["twitter:card"]


def test_a_hidden_count_is_not_in_the_description(organizer):
    letter = make_letter(
        [organizer], slug="inside", visibility=Letter.Visibility.MEMBERS, hide_count=True
    )
    Letter.objects.filter(pk=letter.pk).update(signature_count=3456)
    letter.refresh_from_db()
    assert "3,456" not in letter.share_description and "3456" not in letter.share_description


def test_the_share_step_follows_signing_and_confirming(client, letter):
    signed = client.post(f"/l/{letter.slug}/", FORM, follow=True).content.decode()
    assert 'id="share-link"' in signed and f"/l/{letter.slug}/" in signed
    assert "mailto:?subject=" in signed
    confirmed = client.post(f"/v/{last_token()}").content.decode()
    assert "confirmed" in confirmed and 'id="share-link"' in confirmed
    # Plain links only: no scripts or buttons of a third party.
    assert not re.search(r"<script[^>]+src=\"https?://", signed + confirmed)


def test_the_letter_page_has_a_share_section(client, letter):
    html = page(client, letter)
    assert 'id="share"' in html and 'id="share-link"' in html


def test_every_page_has_the_favicon_and_one_stylesheet_with_a_dark_scheme(client, letter):
    for path in ("/", f"/l/{letter.slug}/", "/accounts/login/", "/no-such-page/"):
        html = client.get(path).content.decode()
        assert 'rel="icon" href="/static/favicon.svg"' in html, path
        assert len(re.findall(r'rel="stylesheet"', html)) == 1, path
    css = open(finders.find("undersigned.css")).read()
    assert "prefers-color-scheme: dark" in css
    assert ":focus-visible" in css
    assert "@import" not in css and "url(http" not in css  # no third-party fonts
