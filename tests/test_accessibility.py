"""axe-core (pinned in package-lock.json, installed by ``make test`` with ``npm ci``) runs in
Chromium on the public, signer and organizer pages at a desktop's and a phone's width:
WCAG 2.0-2.2 A and AA rules, zero violations. The Django admin is not checked (its own
pages, for operators only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_letter
from tests.test_browser import browser, new_context, site_url  # noqa: F401  (fixtures)
from tests.test_browser_organize import log_in
from tests.test_pledges import make_pledge
from undersigned.letters.models import Letter

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PUBLIC = [
    "/",
    "/l/clean-air/",
    "/l/clean-air/signed/",
    "/l/clean-air/embed/",
    "/tips/",
    "/tips/reply/",
    "/l/clean-air/versions/",
    "/p/leave/",
    "/accounts/login/",
    "/accessibility/",
    "/no-such-page/",
]
ORGANIZER = [
    "/organize/",
    "/organize/clean-air/",
    "/organize/clean-air/log/",
    "/organize/new/",
    "/organize/keys/",
    "/organize/clean-air/pledges/",
]


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' ')))",
        TAGS,
    )
    return found


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
def test_no_page_breaks_an_accessibility_rule(new_context, site_url, organizer, width):  # noqa: F811
    assert AXE.exists(), "run `npm ci` (make test does) to install the pinned axe-core"
    letter = make_letter([organizer], goal=500, domains="example.com")
    Letter.objects.filter(pk=letter.pk).update(signature_count=123, verified_count=100)
    make_pledge(letter=letter)
    # axe is injected as an inline script, which the pages' own policy (rightly) refuses.
    context = new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found = {}
    for path in PUBLIC:
        page.goto(site_url + path)
        found[path] = violations(page)
    log_in(page, site_url)
    for path in ORGANIZER:
        page.goto(site_url + path)
        found[path] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}
    # And axe does look: a page that breaks two rules is caught.
    page.set_content('<html><body><img src="/static/favicon.svg"><input type="text"></body></html>')
    caught = " ".join(violations(page))
    assert "image-alt" in caught and "label" in caught


@pytest.mark.django_db
def test_the_accessibility_statement_says_what_is_met_the_gaps_and_whom_to_tell(client):
    html = client.get("/accessibility/").content.decode()
    for heading in ("What is met", "Known gaps", "Tell us"):
        assert heading in html
    assert 'href="/accessibility/"' in client.get("/").content.decode()
