"""Passkeys in a real Chromium, through its virtual authenticator (the DevTools protocol's
WebAuthn domain, driven from Playwright): register one as the second factor an organizer is
led to set up, sign in with it alone, and use it as the second step after the password."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.test_browser import browser, new_context, site_url  # noqa: F401  (fixtures)
from undersigned.accounts import factors
from undersigned.accounts.models import Passkey, RecoveryCode
from undersigned.events.models import Event
from undersigned.letters import organizers as team
from undersigned.web.sessions import SessionStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def with_authenticator(page) -> tuple[object, str]:
    """A virtual platform authenticator (resident keys, user verification) for ``page``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_a_passkey_is_registered_then_signs_in_alone_and_as_the_second_step(
    new_context,  # noqa: F811
    site_url,  # noqa: F811
    organizer,
    letter,
):
    page = new_context().new_page()
    cdp, authenticator = with_authenticator(page)

    # Led to set up a second factor after the password; a passkey is one.
    nora = get_user_model().objects.create_user("nora", "nora@example.org", "pw-nora-12345")
    team.change(letter, roles={nora: "viewer"}, via="command")
    page.goto(site_url + "/accounts/login/?next=/organize/")
    page.get_by_label("Username", exact=True).fill("nora")
    page.get_by_label("Password", exact=True).fill("pw-nora-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(site_url + "/accounts/two-factor/?next=/organize/")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert Passkey.objects.filter(user=nora).count() == 1
    assert RecoveryCode.objects.filter(user=nora).count() == 10
    assert Event.objects.filter(kind="account.factor_added", data__factor="passkey").exists()
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert (
        len(credentials["credentials"]) == 1
        and credentials["credentials"][0]["isResidentCredential"]
    )
    page.get_by_role("link", name="I have kept them").click()
    expect(page).to_have_url(site_url + "/organize/")
    expect(page.locator("h1")).to_have_text("Your letters")

    # Sign in with the passkey alone: no username, no password.
    page.context.clear_cookies()
    page.goto(site_url + "/accounts/login/?next=/organize/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(site_url + "/organize/")
    expect(page.locator("h1")).to_have_text("Your letters")
    assert page.get_by_text(letter.title).count() == 1

    # The second step after the password.
    page.context.clear_cookies()
    page.goto(site_url + "/accounts/login/?next=/organize/")
    page.get_by_label("Username", exact=True).fill("nora")
    page.get_by_label("Password", exact=True).fill("pw-nora-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(site_url + "/accounts/verify/?next=/organize/")
    page.get_by_role("button", name="Use your passkey").click()
    expect(page).to_have_url(site_url + "/organize/")

    # Ten minutes on, an export asks to confirm it is you: the passkey does.
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    session[factors.AUTH_AT] -= 10 * 60
    session.save()
    page.goto(site_url + f"/organize/{letter.slug}/export.csv")
    expect(page).to_have_url(
        site_url + f"/accounts/confirm/?next=/organize/{letter.slug}/export.csv"
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Confirm with your passkey").click()
    assert download.value.suggested_filename == f"{letter.slug}-signatures.csv"
    assert Event.objects.filter(kind="letter.exported", actor__username="nora").count() == 1

    # Without the authenticator, the passkey cannot answer: still at the second step.
    page.context.clear_cookies()
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})
    page.goto(site_url + "/accounts/login/?next=/organize/")
    page.get_by_label("Username", exact=True).fill("nora")
    page.get_by_label("Password", exact=True).fill("pw-nora-12345")
    page.get_by_role("button", name="Log in").click()
    page.goto(site_url + "/organize/")
    assert "/accounts/verify/" in page.url
