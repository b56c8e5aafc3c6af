"""The first screen of the letter page, measured in a real Chromium at a phone's size and a
desktop's: the count and the way to sign are on it, however long the letter."""

from __future__ import annotations

import pytest

from tests.conftest import make_letter
from tests.test_browser import browser, new_context, site_url  # noqa: F401  (fixtures)
from undersigned.letters.models import Letter

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG_BODY = "\n\n".join(
    f"Paragraph {n}: we ask the council to act on the air that our children breathe, "
    "because the numbers from the monitoring stations have been bad for years." * 3
    for n in range(12)
)


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_the_count_and_the_way_to_sign_are_above_the_fold(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    size,
):
    letter = make_letter(
        [organizer],
        slug="long",
        title="Clean air for every school in Riverside, before next winter",
        organized_by="Riverside Parents",
        goal=1000,
        domains="example.com",
    )
    Letter.objects.filter(pk=letter.pk).update(body=LONG_BODY, signature_count=1234)
    width, height = size
    page = new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{site_url}/l/long/")
    for selector in ("h1", "#signature-count", "#verified-count", "#progress", "#sign-button"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert 0 <= box["y"] and box["y"] + box["height"] <= height, (selector, box)
    body = page.locator(".letter .body").bounding_box()
    assert body is not None and body["y"] + body["height"] > height  # the text is long
    page.locator("#sign-button").click()
    name = page.get_by_role("textbox", name="Name", exact=True)
    box = name.bounding_box()
    assert box is not None and 0 <= box["y"] < height  # the button jumps to the form
