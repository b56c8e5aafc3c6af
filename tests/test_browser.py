"""What a person clicks through, in a real Chromium (Playwright) against the live server: a
signer signs and confirms by email through a real SMTP server, with JavaScript on and off; a
hidden signer is counted but never named; a form with mistakes comes back with its errors; an
organizer writes, previews, publishes and closes a letter whose body holds hostile HTML."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pyotp
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import Inbox, settle
from undersigned.letters.models import Letter
from undersigned.lib.tokens import token_hash
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import CountDelta, Intake, Signature

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Every wait in these tests is bounded: Playwright's own waits by this, the rest explicitly.
STEP_TIMEOUT_MS = 10_000
# The page polls the count every 5 s; allow a few polls.
LIVE_COUNT_TIMEOUT_MS = 15_000
RELOAD_TIMEOUT_S = 10.0
AS_OF = re.compile(r"^\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC$")  # 3 December 2026, 10:45 UTC


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, live_server):
    """Open browser contexts (a fresh profile each: cookies, cache) and close them after the
    test, before the live server's database is flushed."""
    contexts = []

    def open_context(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        # Pages may load only from the site itself: anything else (a tracker, a CDN) is
        # noted and never leaves the machine.
        context.third_party_requests = []

        def only_the_site(route):
            if route.request.url.startswith(live_server.url + "/"):
                route.continue_()
            else:
                context.third_party_requests.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_site)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def site_url(live_server, settings):
    """The live server's address, also used for the links in mail."""
    settings.BASE_URL = live_server.url
    return live_server.url


def set_up_second_factor(page) -> None:
    """After the password, the site leads a new organizer to set up a second factor: add the
    key to an "app" (pyotp here), give its code, keep the recovery codes, go on."""
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn it on").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have kept them").click()


def textbox(page, name: str):
    """A text field by its accessible name (the label without the "required" star)."""
    return page.get_by_role("textbox", name=name, exact=True)


def sign_on_the_page(page, url, *, name, email, affiliation="", display="public"):
    """Fill in the letter's signing form as a person would (by the labels) and press Sign."""
    page.goto(url)
    textbox(page, "Name").fill(name)
    textbox(page, "Email").fill(email)
    textbox(page, "Affiliation").fill(affiliation)
    page.get_by_role("radio", name=Signature.Display(display).label, exact=True).check()
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def confirmation_link(inbox: Inbox, count: int, to: str) -> str:
    """The link in the ``count``-th mail the SMTP server received, which must be for ``to``."""
    recipients, message = inbox.wait_for(count)[count - 1]
    assert recipients == [to]
    links = re.findall(r"https?://\S+", Inbox.text(message))
    confirm = [link for link in links if "/v/" in link]
    assert len(confirm) == 1, links
    assert all("/v/" in link or "/s/" in link for link in links), links  # and a manage link
    return confirm[0]


def assert_opaque_link(link: str, site_url: str, letter: Letter) -> str:
    """A confirmation link is ``<base>/v/<token>`` and tells nothing about the letter (mail
    servers, scanners and proxies see it). Returns the token."""
    match = re.fullmatch(re.escape(site_url) + r"/v/([A-Za-z0-9_-]{43,})", link)
    assert match, f"not of the form {site_url}/v/<token>: {link}"
    assert letter.slug not in link
    for word in letter.title.lower().split():
        assert len(word) < 4 or word not in link.lower()
    return match.group(1)


def reload_until_count(page, url: str, expected: str, *, forbidden: str | None = None) -> None:
    """Load ``url`` again and again until the count reads ``expected`` (bounded); with
    ``forbidden``, check on every load that the page never contains that text."""
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while True:
        page.goto(url)
        if forbidden is not None:
            assert forbidden not in page.content()
        shown = page.locator("#signature-count").text_content()
        if shown == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the count still reads {shown!r}, not {expected!r}")
        page.wait_for_timeout(200)


def sign_confirm_and_check(new_context, site_url, smtp_server, letter, *, javascript: bool):
    signer = new_context(java_script_enabled=javascript).new_page()
    letter_url = site_url + letter.get_absolute_url()
    name, email = "Ada Lindqvist", "ada@example.net"

    sign_on_the_page(
        signer,
        letter_url,
        name=name,
        email=email,
        affiliation="Riverside Cyclists",
        display="public",
    )
    signature = Signature.objects.get(letter=letter)
    assert signature.status == Signature.Status.PENDING

    link = confirmation_link(smtp_server, 1, email)
    token = assert_opaque_link(link, site_url, letter)
    assert signature.token_hash == token_hash(token).hex()

    # Opening the link (as a mail scanner would) shows a button and changes nothing.
    signer.goto(link)
    expect(signer.get_by_role("heading", name="Confirm your signature")).to_be_visible()
    expect(signer.get_by_role("button", name="Confirm")).to_be_visible()
    signature.refresh_from_db()
    assert signature.status == Signature.Status.PENDING
    assert signature.confirmed_at is None
    assert signature.token_hash == token_hash(token).hex()
    assert not CountDelta.objects.exists()

    # A reader has the letter open while the signer confirms; the signer is not listed yet.
    reader = new_context(java_script_enabled=javascript).new_page()
    reader.goto(letter_url)
    expect(reader.locator("#signature-count")).to_have_text("0")
    assert name not in reader.content()

    signer.get_by_role("button", name="Confirm").click()
    expect(
        signer.get_by_role("heading", name="Thank you: your signature is confirmed")
    ).to_be_visible()
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED

    as_of = reader.locator("#count-time")
    expect(as_of).to_have_text(AS_OF)  # the page says how fresh its count is
    rendered = datetime.fromisoformat(as_of.get_attribute("datetime"))
    if javascript:
        # The open page polls the count: it changes without a reload, and so does its time.
        reader.evaluate("window.__sameDocument = true")
        expect(reader.locator("#signature-count")).to_have_text("1", timeout=LIVE_COUNT_TIMEOUT_MS)
        assert reader.evaluate("window.__sameDocument === true")
        assert datetime.fromisoformat(as_of.get_attribute("datetime")) > rendered
        expect(as_of).to_have_text(AS_OF)
    else:
        reload_until_count(reader, letter_url, "1")
        expect(reader.locator(".as-of")).to_contain_text("as of")

    # From the confirmed page, the signer follows the link to the letter and finds their name.
    signer.get_by_role("link", name=letter.title).click()
    expect(signer).to_have_url(letter_url)
    expect(signer.locator("#signature-count")).to_have_text("1")
    signatories = signer.locator("section.signatories")
    expect(signatories.locator(".name")).to_have_text([name])
    expect(signatories.locator(".affiliation")).to_have_text(["Riverside Cyclists"])
    assert signer.context.third_party_requests == reader.context.third_party_requests == []


def test_a_signer_signs_and_confirms_in_a_real_browser(
    new_context, site_url, smtp_server, worker_thread, letter
):
    sign_confirm_and_check(new_context, site_url, smtp_server, letter, javascript=True)


def test_a_signer_signs_and_confirms_with_javascript_off(
    new_context, site_url, smtp_server, worker_thread, letter
):
    sign_confirm_and_check(new_context, site_url, smtp_server, letter, javascript=False)


@pytest.mark.parametrize("display", ["hidden", "count"])
def test_a_hidden_signer_is_never_named(
    new_context, site_url, smtp_server, worker_thread, letter, display
):
    page = new_context().new_page()
    letter_url = site_url + letter.get_absolute_url()
    name, email = "Hedda Quillfeather", "hedda@example.net"

    sign_on_the_page(
        page,
        letter_url,
        name=name,
        email=email,
        affiliation="Riverside Hospital",
        display=display,
    )
    assert Signature.objects.get(letter=letter).display == display
    page.goto(confirmation_link(smtp_server, 1, email))
    page.get_by_role("button", name="Confirm").click()
    expect(
        page.get_by_role("heading", name="Thank you: your signature is confirmed")
    ).to_be_visible()

    reload_until_count(page, letter_url, "1", forbidden=name)
    listed = page.request.get(f"{site_url}/api/v1/letters/{letter.slug}/signatures")
    assert name not in listed.text() and "Riverside Hospital" not in listed.text()
    if display == "hidden":  # listed without a name
        expect(page.locator("section.signatories")).to_contain_text("Signer, name withheld")
        assert [row["name"] for row in listed.json()["signatures"]] == [None]
    else:  # not listed at all
        expect(page.locator("section.signatories")).to_contain_text("No signatories listed yet")
        assert listed.json()["signatures"] == []


def test_a_form_with_mistakes_comes_back_with_its_errors_and_stores_nothing(
    new_context, site_url, letter
):
    page = new_context().new_page()
    letter_url = site_url + letter.get_absolute_url()
    page.goto(letter_url)
    name_field = textbox(page, "Name")
    email_field = textbox(page, "Email")
    name_field.fill("")
    email_field.fill("not-an-email")
    textbox(page, "Affiliation").fill("Riverside Cyclists")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign", exact=True).click()
    assert answer.value.status == 400

    expect(page.get_by_role("heading", name="Sign this letter")).to_be_visible()
    expect(page.locator("#sign")).to_contain_text("Please correct the fields marked below.")
    for field, message in [
        (name_field, "This field is required."),
        (email_field, "Enter a valid email address."),
    ]:
        expect(field).to_have_attribute("aria-invalid", "true")
        error = page.locator(".field", has=field).locator(".field-error")
        expect(error).to_be_visible()
        expect(error).to_have_text(message)
    # What the person typed is still there, so they only fix the mistakes.
    expect(email_field).to_have_value("not-an-email")
    expect(textbox(page, "Affiliation")).to_have_value("Riverside Cyclists")
    assert not Intake.objects.exists() and not Signature.objects.exists()
    assert not OutgoingEmail.objects.exists()

    # Once corrected, the same form goes through.
    name_field.fill("Ada Lindqvist")
    email_field.fill("ada@example.net")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    settle()
    assert Signature.objects.get().name == "Ada Lindqvist"


def test_a_field_error_is_announced_with_its_field(new_context, site_url, letter):
    page = new_context().new_page()
    page.goto(site_url + letter.get_absolute_url())
    textbox(page, "Email").fill("not-an-email")
    page.get_by_role("button", name="Sign", exact=True).click()
    # A screen reader reads the field's description when it lands on the field.
    expect(textbox(page, "Name")).to_have_accessible_description(
        re.compile(r"This field is required\.")
    )
    expect(textbox(page, "Email")).to_have_accessible_description(
        re.compile(r"We send a confirmation link here\..*Enter a valid email address\.")
    )


def outline(page, locator=None) -> str:
    """The focus indicator of the focused element (or of ``locator``): its outline."""
    script = (
        "el => { const s = getComputedStyle(el); return s.outlineStyle + ' ' + s.outlineWidth; }"
    )
    target = locator if locator is not None else page.locator(":focus")
    return target.evaluate(script)


def tab_to(page, selector: str, presses: int = 40):
    """Press Tab until the focus is on an element matching ``selector``."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return page.locator(":focus")
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.parametrize("javascript", [True, False])
def test_the_error_summary_takes_focus_and_links_to_its_fields(
    new_context, site_url, letter, javascript
):
    page = new_context(java_script_enabled=javascript).new_page()
    page.goto(site_url + letter.get_absolute_url())
    textbox(page, "Email").fill("not-an-email")
    page.get_by_role("button", name="Sign", exact=True).click()
    # Nothing pressed after sending: the summary has the focus, and shows it.
    summary = page.locator("#errors")
    expect(summary).to_be_focused()
    assert outline(page).startswith("solid"), outline(page)
    links = summary.get_by_role("link")
    expect(links).to_have_text(
        ["Name: This field is required.", "Email: Enter a valid email address."]
    )
    # From the summary, Tab reaches its first link; Enter moves the focus to the field.
    link = tab_to(page, "#errors a")
    expect(link).to_have_text("Name: This field is required.")
    assert outline(page).startswith("solid"), outline(page)
    page.keyboard.press("Enter")
    expect(textbox(page, "Name")).to_be_focused()
    assert outline(page).startswith("solid"), outline(page)
    summary.get_by_role("link", name="Email: Enter a valid email address.").click()
    expect(textbox(page, "Email")).to_be_focused()
    button = tab_to(page, "button")
    expect(button).to_have_text("Sign")
    assert outline(page).startswith("solid"), outline(page)
    # The forge page's forms share the summary.
    page.goto(site_url + letter.get_absolute_url() + "forge/")
    page.get_by_role("button", name="Get my challenge").click()
    expect(page.locator("#errors")).to_be_focused()
    # A group of radios: the link goes to its first choice.
    page.get_by_role("link", name="Your code forge: This field is required.").click()
    expect(page.locator("input[name=forge]").first).to_be_focused()
    page.get_by_role("link", name="Your user name there: This field is required.").click()
    expect(page.get_by_role("textbox", name="Your user name there")).to_be_focused()


HOSTILE_BODY = """\
We ask for **one** thing: [clean air](https://example.org/air).

## Our demands

- safe streets
- clean air

<script>window.__pwned=1</script>

<img src="x" onerror="window.__pwned=2">

<a href="javascript:window.__pwned=3">click me</a>

[x](javascript:alert(1)) and <javascript:alert(2)>

![a tracking pixel](http://127.0.0.1:9/pixel.png)
"""


def assert_nothing_hostile_runs(page) -> None:
    body = page.locator("article .body")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert body.locator("script, img, [onerror]").count() == 0
    # The Markdown link is there, so the check below is not vacuous.
    expect(body.get_by_role("link", name="clean air")).to_have_attribute(
        "href", "https://example.org/air"
    )
    protocols = page.locator("a[href]").evaluate_all("links => links.map(a => a.protocol)")
    assert "javascript:" not in protocols
    assert set(protocols) <= {"http:", "https:", "mailto:"}
    # Raw HTML is shown as text, never run.
    expect(body).to_contain_text("<script>window.__pwned=1</script>")
    # Nothing in the body makes the reader's browser call another server.
    assert page.context.third_party_requests == []


def assert_markdown_rendered(page) -> None:
    body = page.locator("article .body")
    expect(body.locator("strong")).to_have_text(["one"])
    expect(body.get_by_role("heading", name="Our demands", level=2)).to_be_visible()
    expect(body.locator("li")).to_have_text(["safe streets", "clean air"])
    assert "**" not in body.inner_text()


def test_an_organizer_writes_previews_publishes_and_closes_a_letter_that_stays_safe(
    new_context, site_url, organizer
):
    organizer_page = new_context().new_page()
    organizer_page.goto(site_url + "/organize/new/")
    expect(organizer_page.get_by_role("heading", name="Organizer log-in")).to_be_visible()
    organizer_page.get_by_label("Username", exact=True).fill("olivia")
    organizer_page.get_by_label("Password", exact=True).fill("pw-olivia-123")
    organizer_page.get_by_role("button", name="Log in").click()
    set_up_second_factor(organizer_page)

    expect(organizer_page.get_by_role("heading", name="New letter")).to_be_visible()
    organizer_page.get_by_label("Title", exact=True).fill("Safe crossings at Mill Road")
    organizer_page.get_by_label("Slug", exact=True).fill("mill-road")
    organizer_page.get_by_label("Addressed to", exact=True).fill("Riverside Council")
    organizer_page.get_by_label("Body", exact=True).fill(HOSTILE_BODY)
    organizer_page.get_by_role("button", name="Save draft").click()
    expect(organizer_page).to_have_url(site_url + "/organize/mill-road/")
    expect(organizer_page.locator(".messages")).to_contain_text("Draft saved")
    letter = Letter.objects.get(slug="mill-road")
    assert letter.status == Letter.Status.DRAFT
    assert list(letter.organizers.all()) == [organizer]
    public_url = site_url + letter.get_absolute_url()
    assert organizer_page.request.get(public_url).status == 404

    organizer_page.get_by_role("link", name="Preview").click()
    expect(organizer_page.get_by_role("note")).to_contain_text("Preview")
    expect(
        organizer_page.get_by_role("heading", name="Safe crossings at Mill Road")
    ).to_be_visible()
    assert_markdown_rendered(organizer_page)
    assert_nothing_hostile_runs(organizer_page)
    expect(organizer_page.get_by_role("button", name="Sign", exact=True)).to_have_count(0)

    organizer_page.go_back()
    organizer_page.get_by_role("button", name="Publish").click()
    expect(organizer_page.locator(".messages")).to_contain_text("Published")
    letter.refresh_from_db()
    assert letter.status == Letter.Status.OPEN

    reader = new_context().new_page()
    reader.goto(public_url)
    expect(reader.get_by_role("heading", name="Safe crossings at Mill Road")).to_be_visible()
    expect(reader.get_by_text("To Riverside Council")).to_be_visible()
    assert_markdown_rendered(reader)
    assert_nothing_hostile_runs(reader)
    expect(reader.get_by_role("button", name="Sign", exact=True)).to_be_visible()

    organizer_page.get_by_role("link", name="Close to new signatures").click()
    expect(organizer_page.get_by_role("heading", level=1)).to_contain_text("Close")
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.OPEN  # asked first
    organizer_page.get_by_role("button", name="Close it").click()
    expect(organizer_page.locator(".messages")).to_contain_text("Closed")
    letter.refresh_from_db()
    assert letter.status == Letter.Status.CLOSED

    reader.reload()
    expect(reader.locator("#sign")).to_contain_text(
        "This letter is closed and no longer takes signatures."
    )
    expect(reader.get_by_role("button", name="Sign", exact=True)).to_have_count(0)
    assert_nothing_hostile_runs(reader)


def test_an_employee_signs_a_members_only_letter_with_javascript_off(
    new_context, site_url, smtp_server, worker_thread, organizer
):
    from tests.conftest import make_letter

    letter = make_letter(
        [organizer],
        slug="inside",
        title="Cancel Project Nightjar",
        visibility="members",
        organization="Example Corp",
        domains="example.com",
    )
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    letter_url = site_url + letter.get_absolute_url()

    page.goto(letter_url)
    expect(page.get_by_role("heading", name="Cancel Project Nightjar")).to_be_visible()
    assert "safe streets" not in page.content()  # the text stays closed to outsiders
    textbox(page, "Your work email address").fill("ada@example.com")
    page.get_by_role("button", name="I work at Example Corp: send me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    recipients, message = smtp_server.wait_for(1)[0]
    assert recipients == ["ada@example.com"]
    assert "Nightjar" not in message["Subject"] + Inbox.text(message)
    [pass_link] = re.findall(r"https?://\S+/m/\S+", Inbox.text(message))
    page.goto(pass_link)
    page.get_by_role("button", name="Open the letter").click()
    expect(page.get_by_text("safe streets")).to_be_visible()

    # The pass proved the address: no address to type, no second mail; hidden by default.
    page.goto(letter_url)
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_have_count(0)
    hidden = Signature.Display.HIDDEN.label
    expect(page.get_by_role("radio", name=hidden, exact=True)).to_be_checked()
    textbox(page, "Name").fill("Ada Quillfeather")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_role("heading", name="Thank you: you signed")).to_be_visible()
    private_link = page.locator("#private-link").get_attribute("href")
    assert "/s/" in private_link

    reload_until_count(page, letter_url, "1", forbidden="Ada Quillfeather")
    expect(page.locator("#verified-count")).to_have_text("1")
    expect(page.locator("section.signatories")).to_contain_text("verified: works at example.com")
    assert len(smtp_server.messages) == 1  # the pass alone
    page.goto(private_link)
    expect(page.get_by_text("confirmed and counted")).to_be_visible()
    assert context.third_party_requests == []


def test_the_pages_break_no_rule_of_their_content_security_policy(
    new_context, site_url, letter, organizer, client
):
    context = new_context()
    page = context.new_page()
    refused = []
    page.on("console", lambda message: refused.append(message.text))
    page.on("pageerror", lambda error: refused.append(str(error)))
    for path in ("/", letter.get_absolute_url(), "/accounts/login/"):
        page.goto(site_url + path)
    textbox(page, "Username").fill(organizer.username)
    page.get_by_label("Password").fill("pw-olivia-123")
    page.get_by_role("button", name="Log in").click()
    for path in ("/organize/", f"/organize/{letter.slug}/", "/organize/keys/"):
        page.goto(site_url + path)
    page.wait_for_timeout(500)
    assert not [text for text in refused if "Content Security Policy" in text], refused
    assert context.third_party_requests == []
