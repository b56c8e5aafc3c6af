"""The organizer workspace in a real Chromium (issue 14): the whole flow once (write, publish
from the preview, revise, post an update, record a response, invite a co-organizer who accepts
from the mail), and every organizer page at 390 px wide without horizontal scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import Inbox
from tests.test_browser import browser, new_context, set_up_second_factor, site_url  # noqa: F401
from undersigned.letters import organizers, timeline
from undersigned.letters.models import Letter, Organizer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2}


def log_in(page, site_url, username="olivia", password="pw-olivia-123", then="/organize/"):  # noqa: F811, S107
    page.goto(site_url + "/accounts/login/?next=" + then)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    if "/accounts/two-factor/" in page.url:  # the site requires a second factor: set one up
        set_up_second_factor(page)


def invitation_link(inbox: Inbox, to: str) -> str:
    for recipients, message in inbox.wait_for(1):
        if to in recipients:
            return re.search(r"https?://\S+/organize/join/\S+", Inbox.text(message)).group(0)
    raise AssertionError(f"no invitation to {to}")


def test_the_whole_organizer_flow_in_a_browser(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    co_organizer,
    smtp_server,
    worker_thread,
):
    page = new_context().new_page()
    log_in(page, site_url, then="/organize/new/")
    # Write: the essentials first, then who signs, when it closes, privacy.
    legends = page.locator("fieldset.group legend").all_inner_texts()
    assert legends[0] == "The letter" and legends[-1] == "Privacy and retention"
    page.get_by_label("Title", exact=True).fill("Cancel the contract")
    page.get_by_label("Slug", exact=True).fill("cancel-it")
    page.get_by_label("Addressed to", exact=True).fill("The company's leaders")
    page.get_by_label("Body", exact=True).fill("We ask you to **cancel** the contract.")
    page.get_by_label("Deadline", exact=True).fill("2030-06-30T18:00")
    page.get_by_label("Time zone of the deadline").select_option("Europe/London")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".messages")).to_contain_text("Draft saved")
    letter = Letter.objects.get(slug="cancel-it")
    assert letter.deadline.isoformat() == "2030-06-30T17:00:00+00:00"  # 18:00 in summer London
    expect(page.locator("#glance ~ dl")).to_contain_text("30 June 2030, 18:00 Europe/London")

    # Preview, and publish from beside it.
    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("note")).to_contain_text("Preview")
    page.get_by_role("button", name="Publish it").click()
    expect(page.locator(".messages")).to_contain_text("Published")

    # Revise: a new version; what was signed stays.
    page.get_by_label("Body", exact=True).fill("We ask you to **cancel** the contract now.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Saved as version 2")

    # Post an update.
    page.get_by_label("Update", exact=True).fill("We handed the letter in.")
    page.get_by_role("button", name="Post the update").click()
    expect(page.locator(".messages")).to_contain_text("Update posted")

    # Record a response, with its source.
    page.get_by_label("Who said it").fill("Pat Chief")
    page.get_by_label("Role", exact=True).fill("Chief executive")
    page.get_by_label("When it was said").fill("2026-06-20")
    page.get_by_label("The quote, or a summary").fill("We are not working on any such project.")
    page.get_by_label("Sources", exact=True).fill("https://example.com/statement")
    page.get_by_role("button", name="Record it").click()
    expect(page.locator(".messages")).to_contain_text("Response recorded")

    # Invite a co-organizer, who accepts from the mail.
    page.get_by_label("Their email address").fill("carlos@example.org")
    page.get_by_label("Their role").select_option("editor")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator(".messages")).to_contain_text("Invitation sent")
    link = invitation_link(smtp_server, "carlos@example.org")
    carlos = new_context().new_page()
    log_in(carlos, site_url, "carlos", "pw-carlos-123", then=link.removeprefix(site_url))
    expect(carlos.get_by_role("heading", name="Organize “Cancel the contract”")).to_be_visible()
    expect(carlos.get_by_text("cannot read the names sealed before")).to_be_visible()
    assert not Organizer.objects.filter(letter=letter, user=co_organizer).exists()
    carlos.get_by_role("button", name="Accept").click()
    expect(carlos.locator(".messages")).to_contain_text("You organize")
    assert Organizer.objects.get(letter=letter, user=co_organizer).role == "editor"

    # A reader sees it all, on one timeline.
    reader = new_context().new_page()
    reader.goto(site_url + "/l/cancel-it/")
    expect(reader.locator("article .body")).to_contain_text("the contract now.")
    timeline_entries = reader.locator("ol.timeline > li")
    expect(timeline_entries.first).to_contain_text("Pat Chief, Chief executive")
    expect(timeline_entries.nth(1)).to_contain_text("We handed the letter in.")
    expect(timeline_entries.nth(2)).to_contain_text("Version 2 of the text published")
    reader.get_by_role("link", name="What changed", exact=True).click()
    expect(reader.locator("#diff ins")).to_contain_text("now.")
    assert reader.context.third_party_requests == []


def test_every_organizer_page_fits_a_phone_without_sideways_scrolling(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    co_organizer,
    letter,
):
    # Long words, long links and every section filled, so that the pages are at their widest.
    timeline.post_update(letter, "A" * 120 + " https://example.com/" + "x" * 150, via="command")
    demand = timeline.add_demand(letter, "Cancel the contract with the agency", via="command")
    timeline.set_demand_status(demand, "partly-met", "Paused.", via="command")
    timeline.record_response(
        letter,
        by="Pat Chief",
        said_on=letter.published_at.date(),
        quote="No.",
        sources=["https://example.com/" + "very-long-path-segment/" * 8],
        via="command",
    )
    token = organizers.invite(letter, "new@example.org", "viewer", via="command")
    context = new_context(**PHONE)
    page = context.new_page()
    log_in(page, site_url)
    slug = letter.slug
    pages = [
        "/organize/",
        "/organize/new/",
        f"/organize/{slug}/",
        f"/organize/{slug}/preview/",
        f"/organize/{slug}/log/",
        f"/organize/{slug}/close/",
        f"/organize/{slug}/team/remove/carlos/",
        "/organize/keys/",
        f"/organize/join/{token}",
        f"/l/{slug}/",
        f"/l/{slug}/versions/",
        f"/l/{slug}/timeline/",
    ]
    too_wide = {}
    for path in pages:
        response = page.goto(site_url + path)
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
    assert not too_wide, too_wide
