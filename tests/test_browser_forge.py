"""Signing as a code-forge account in a real Chromium with JavaScript off: ask for the
challenge, sign it with the real ssh-keygen, paste the signature, keep the private link; and
both steps' pages break no accessibility rule at a phone's and a desktop's width."""

from __future__ import annotations

import pytest

from tests.conftest import make_letter, settle
from tests.test_accessibility import AXE, violations
from tests.test_browser import browser, new_context, site_url  # noqa: F401  (fixtures)
from tests.test_forge import Forge, SshKey
from undersigned.letters.models import Letter
from undersigned.signatures.counting import apply_deltas
from undersigned.signatures.models import Signature

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def github(settings):
    server = Forge()
    settings.FORGE_URLS = {**settings.FORGE_URLS, "github": server.url}
    yield server
    server.close()


def ask_for_a_challenge(page, site_url: str) -> str:  # noqa: F811
    page.goto(site_url + "/l/clean-air/")
    page.get_by_role("link", name="Sign as your code-forge account").click()
    page.get_by_label("GitHub").check()
    page.get_by_label("Your user name there").fill("alice")
    page.get_by_role("button", name="Get my challenge").click()
    return page.locator("#challenge-text").inner_text().strip()


def test_a_maintainer_signs_with_an_ssh_key_and_no_javascript(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    github,
    tmp_path,
):
    letter = make_letter([organizer])
    key = SshKey(tmp_path, "ed25519", "alice")
    github.keys["alice"] = [key.public]
    page = new_context(java_script_enabled=False).new_page()

    challenge = ask_for_a_challenge(page, site_url)
    assert "ssh-keygen -Y sign" in page.locator("#command-unix").inner_text()
    namespace = page.locator("code", has_text="undersigned@").last.inner_text()
    # A mistake first: the signature of something else comes back as a field error.
    page.get_by_label("The signature ssh-keygen printed").fill(key.sign("other", namespace))
    page.locator("#id_name").fill("Alice Maintainer")
    page.get_by_role("button", name="Sign").click()
    assert "not of this challenge" in page.locator(".field-error").inner_text()
    page.get_by_label("The signature ssh-keygen printed").fill(key.sign(challenge, namespace))
    page.get_by_role("button", name="Sign").click()

    link = page.locator("#private-link").inner_text()
    assert "/s/" in link
    assert "alice" in page.locator("#proven").inner_text()
    settle()
    apply_deltas()
    assert Letter.objects.get(pk=letter.pk).signature_count == 1
    assert Signature.objects.get().forge_username == "alice"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_forge_pages_break_no_accessibility_rule(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    github,
    width,
):
    assert AXE.exists(), "run `npm ci` (make test does) to install the pinned axe-core"
    make_letter([organizer])
    context = new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(site_url + "/l/clean-air/forge/")
    found = {"step one": violations(page)}
    ask_for_a_challenge(page, site_url)
    found["step two"] = violations(page)
    page.get_by_role("button", name="Sign").click()  # empty: the form with its errors
    found["errors"] = violations(page)
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert {step: v for step, v in found.items() if v} == {}
    assert not overflow, "the page scrolls sideways"
