"""axe-core (pinned in package-lock.json, installed by ``make test`` with ``npm ci``) runs in
Chromium on the public, signer and organizer pages at a desktop's and a phone's width:
WCAG 2.0-2.2 A and AA rules, zero violations. The Django admin is not checked (its own
pages, for operators only)."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.conftest import confirmation_token, make_letter, settle
from tests.test_browser import browser, new_context, sign_on_the_page, site_url  # noqa: F401
from tests.test_browser_organize import log_in
from tests.test_mail import KINDS, every_kind
from tests.test_pledges import make_pledge
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Affiliations

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
    "/p/walk-out/forge/",
    "/l/clean-air/timeline/",
    "/l/clean-air/forge/",
    "/l/open-road/forge/",
    "/l/clean-air/tip/",
    "/u/not-a-token",
    "/organize/join/not-a-token",
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


CONTRAST = ["color-contrast", "link-in-text-block"]


def with_organizations(letter) -> None:
    """The breakdown by organization, as the worker would have stored it."""
    groups = [["Debian", 60], ["Red Hat", 30], ["other", 33]]
    Affiliations.objects.create(letter=letter, groups=json.dumps(groups))


def violations(page, rules: list[str] | None = None) -> list[str]:
    """axe's findings on the page: every WCAG A and AA rule, or only ``rules``. After a click
    the next page may still be loading its stylesheet: axe waits for it (unstyled, radios and
    links are smaller than a target may be)."""
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(AXE))
    only = {"type": "rule", "values": rules} if rules else {"type": "tag", "values": TAGS}
    found = page.evaluate(
        "only => axe.run(document, {runOnly: only})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' ')))",
        only,
    )
    return found


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
def test_no_page_breaks_an_accessibility_rule(new_context, site_url, organizer, width):  # noqa: F811
    assert AXE.exists(), "run `npm ci` (make test does) to install the pinned axe-core"
    letter = make_letter([organizer], goal=500, domains="example.com")
    make_letter([organizer], slug="open-road", title="Open the road")  # forge signing
    Letter.objects.filter(pk=letter.pk).update(signature_count=123, verified_count=100)
    with_organizations(letter)
    make_pledge(letter=letter)
    make_pledge(slug="walk-out")  # names no domains: code-forge accounts may commit
    # axe is injected as an inline script, which the pages' own policy (rightly) refuses.
    context = new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found = {}
    for path in PUBLIC:
        page.goto(site_url + path)
        found[path] = violations(page)
    page.goto(site_url + "/l/clean-air/")
    expect(page.locator("#breakdown-organization")).to_contain_text("Debian")  # checked too
    log_in(page, site_url)
    for path in ORGANIZER:
        page.goto(site_url + path)
        found[path] = violations(page)
    page.goto(site_url + "/organize/new/")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#errors")).to_be_focused()
    found["new letter with errors"] = violations(page)
    assert {p: v for p, v in found.items() if v} == {}
    # And axe does look: a page that breaks two rules is caught.
    page.set_content('<html><body><img src="/static/favicon.svg"><input type="text"></body></html>')
    caught = " ".join(violations(page))
    assert "image-alt" in caught and "label" in caught


# The element the focus is on (null: none, or one already reached) and whether it shows it.
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el.dataset.reached) return null;
    el.dataset.reached = "1";
    const style = getComputedStyle(el);
    const shown = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    return [el.outerHTML.slice(0, 80), shown];
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_keyboard_focus_is_visible_on_everything_it_reaches(new_context, site_url, organizer):  # noqa: F811
    """Tab through each public page, and the letter page's form sent back with mistakes:
    every element the focus lands on draws an outline of at least 2 px."""
    make_letter([organizer], goal=500)
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    hidden, reached = [], 0
    for path in [*PUBLIC, "errors"]:
        if path == "errors":
            page.goto(site_url + "/l/clean-air/")
            page.get_by_role("button", name="Sign", exact=True).click()
            expect(page.locator("#errors")).to_be_focused()
        else:
            page.goto(site_url + path)
        for _ in range(80):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused is None:
                break  # out of the page, or round again
            reached += 1
            if not focused[1]:
                hidden.append((path, focused[0]))
    assert reached > 100, reached  # the walk did reach the pages' links, fields and buttons
    assert hidden == []


@pytest.mark.browser
@pytest.mark.slow
def test_the_dark_scheme_keeps_its_contrast(new_context, site_url, organizer):  # noqa: F811
    """axe's contrast rules with the system asking for the dark scheme
    (``prefers-color-scheme: dark``), on every public and organizer page and a form with
    mistakes."""
    letter = make_letter([organizer], goal=500, domains="example.com")
    Letter.objects.filter(pk=letter.pk).update(signature_count=123, verified_count=100)
    with_organizations(letter)
    make_letter([organizer], slug="open-road", title="Open the road")
    context = new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True,
                          color_scheme="dark")  # fmt: skip
    page = context.new_page()
    found = {}
    for path in PUBLIC:
        page.goto(site_url + path)
        found[path] = violations(page, CONTRAST)
    page.goto(site_url + "/l/open-road/")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.locator("#errors")).to_be_focused()
    found["letter with errors"] = violations(page, CONTRAST)
    log_in(page, site_url)
    for path in ORGANIZER:
        page.goto(site_url + path)
        found[path] = violations(page, CONTRAST)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 19, 23)"  # the dark --bg: the dark tokens are in use
    assert {p: v for p, v in found.items() if v} == {}


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_html_mail_breaks_no_accessibility_rule(new_context, letter, organizer, scheme):  # noqa: F811
    """Mail gets the same care as the pages: each kind's HTML part, opened in Chromium at a
    phone's width in either scheme (a mail client's own styles aside)."""
    discreet = make_letter([organizer], slug="inside", title="Inside", discreet_mail=True)
    every_kind(letter, discreet, organizer)
    context = new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
    page = context.new_page()
    found = {}
    for row in OutgoingEmail.objects.order_by("id"):
        page.set_content(row.body_html)
        found[row.kind] = violations(page)
    assert sorted(found) == KINDS
    assert {k: v for k, v in found.items() if v} == {}


def last_mail(kind: str) -> str:
    return OutgoingEmail.objects.filter(kind=kind).latest("id").body_text


def link_in(body: str, prefix: str) -> str:
    return prefix + body.split(prefix, 1)[1].split()[0]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
def test_no_signer_or_account_page_breaks_an_accessibility_rule(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    width,
):
    """The pages a signer reaches from a mail (confirm, the private page, withdrawing), the
    members-only gate, and an organizer's account pages, each in the state a person sees."""
    make_letter([organizer], goal=500)  # no domains: it may be signed as a forge account
    make_letter(
        [organizer], slug="inside", visibility="members", organization="Example Corp",
        domains="example.com",
    )  # fmt: skip
    options = {"viewport": {"width": width, "height": 900}, "bypass_csp": True}
    page = new_context(**options).new_page()
    found = {}

    def check(name: str) -> None:
        found[name] = violations(page)

    # A form sent back with mistakes: its summary, focused, and the fields marked.
    page.goto(site_url + "/l/clean-air/")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.locator("#errors")).to_be_focused()
    check("letter with errors")
    page.goto(site_url + "/l/clean-air/forge/")
    page.get_by_role("button", name="Get my challenge").click()
    expect(page.locator("#errors")).to_be_focused()
    check("forge with errors")
    # A signer, from the form through the two links of the mail.
    sign_on_the_page(page, site_url + "/l/clean-air/", name="Ada Byron", email="ada@example.org")
    settle()
    body = last_mail("confirm")
    page.goto(site_url + "/v/" + confirmation_token(body))
    check("confirm")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("confirmed")
    check("confirmed")
    page.goto(site_url + link_in(body, "/s/"))
    check("private page")
    page.get_by_role("button", name="Withdraw my signature…").click()
    check("withdraw step")
    page.get_by_role("button", name="Withdraw my signature", exact=True).click()
    check("withdrawn")
    for path in ("/v/not-a-token", "/s/not-a-receipt"):
        page.goto(site_url + path)
        check(path)
    # The members-only letter: the gate, the pass from the mail, the letter opened.
    page.goto(site_url + "/l/inside/")
    check("members gate")
    page.get_by_role("textbox", name="Your work email address").fill("bea@example.com")
    page.get_by_role("button", name="I work at Example Corp: send me a link").click()
    check("members mail sent")
    page.goto(site_url + link_in(last_mail("member-pass"), "/m/"))
    check("members pass")
    page.get_by_role("button", name="Open the letter").click()
    check("members letter")
    # An organizer's account: the first log-in sets up a second factor.
    page.goto(site_url + "/accounts/login/")
    page.get_by_label("Username", exact=True).fill("olivia")
    page.get_by_label("Password", exact=True).fill("pw-olivia-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    check("two-factor setup")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn it on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    check("recovery codes")
    page.get_by_role("link", name="I have kept them").click()
    for path in ("/accounts/", "/accounts/two-factor/", "/accounts/tokens/", "/accounts/confirm/"):
        page.goto(site_url + path)
        check(path)
    page.goto(site_url + "/accounts/tokens/")
    page.get_by_role("textbox", name="Label").fill("counter script")
    page.get_by_role("button", name="Create token").click()
    check("token created")
    # The second step of a later log-in, and a password reset by mail.
    page = new_context(**options).new_page()
    page.goto(site_url + "/accounts/login/")
    page.get_by_label("Username", exact=True).fill("olivia")
    page.get_by_label("Password", exact=True).fill("pw-olivia-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()
    check("second step")
    page = new_context(**options).new_page()
    page.goto(site_url + "/accounts/password-reset/")
    check("password reset")
    page.get_by_role("textbox", name="Email").fill(organizer.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    check("password reset sent")
    settle()  # the worker mails the reset link
    page.goto(link_in(last_mail("password-reset"), site_url))
    check("new password")
    assert len(found) == 24
    assert {p: v for p, v in found.items() if v} == {}


@pytest.mark.django_db
def test_the_accessibility_statement_says_what_is_met_the_gaps_and_whom_to_tell(client):
    html = client.get("/accessibility/").content.decode()
    for heading in ("What is met", "Known gaps", "Tell us"):
        assert heading in html
    assert 'href="/accessibility/"' in client.get("/").content.decode()
