"""A pledge in Chromium with JavaScript off: commit by the labels, confirm from the mail's
link (a GET shows a button), see only the count until the worker meets the pledge, then the
date and the committer's name; nothing loads from elsewhere."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import Inbox
from tests.test_browser import browser, new_context, site_url, textbox  # noqa: F401  (fixtures)
from tests.test_pledges import make_pledge
from undersigned.pledges.models import Commitment, Pledge

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def reload_until(page, url: str, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in page.content():
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never showed {text!r}")
        page.wait_for_timeout(300)
        page.goto(url)


def test_a_committer_commits_and_confirms_with_javascript_off(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    smtp_server,
    worker_thread,
):
    pledge = make_pledge(threshold=1)
    url = site_url + pledge.get_absolute_url()
    page = new_context(java_script_enabled=False).new_page()

    page.goto(url)
    page.get_by_role("button", name="Commit").click()  # empty: the form comes back
    expect(page.get_by_role("alert").first).to_be_visible()
    assert not Commitment.objects.exists()

    textbox(page, "Name").fill("Ada Maintainer")
    textbox(page, "Email").fill("ada@example.net")
    page.get_by_role("radio", name=Commitment.Display.PUBLIC.label, exact=True).check()
    page.get_by_role("button", name="Commit").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    recipients, message = smtp_server.wait_for(1)[0]
    assert recipients == ["ada@example.net"]
    (link,) = re.findall(r"https?://\S+/pv/\S+", Inbox.text(message))
    page.goto(link)  # as a mail scanner would: nothing happens
    expect(page.get_by_role("heading", name="Confirm your commitment")).to_be_visible()
    assert Commitment.objects.get().status == Commitment.Status.PENDING

    reader = new_context(java_script_enabled=False).new_page()
    reader.goto(url)
    expect(reader.locator("#commitment-count")).to_have_text("0")
    assert "Ada Maintainer" not in reader.content()

    page.get_by_role("button", name="Confirm").click()
    expect(
        page.get_by_role("heading", name="Thank you: your commitment is confirmed")
    ).to_be_visible()
    reload_until(reader, url, "Met</strong> on")  # the worker decides it within seconds
    expect(reader.locator("#commitment-count")).to_have_text("1")
    assert "Ada Maintainer" in reader.content()
    assert Pledge.objects.get().status == Pledge.Status.MET
    _, met = smtp_server.wait_for(2)[1]
    assert met["Subject"].startswith("The pledge is live")
    assert page.context.third_party_requests == reader.context.third_party_requests == []
