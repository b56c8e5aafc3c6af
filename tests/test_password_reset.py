"""Password reset by mail (no enumeration; GET shows, POST acts; once; an hour) and the
limits on log-in attempts, with a mail to the owner after repeated failures; the sessions
list and "sign out everywhere"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.conftest import mails_to, settle
from undersigned.accounts import login
from undersigned.accounts.models import UserSession
from undersigned.moderation import limits
from undersigned.outbox.models import OutgoingEmail


@pytest.fixture(autouse=True)
def _fresh_limits():
    limits.windows.clear()
    yield
    limits.windows.clear()


def ask_reset(client: Client, email: str):
    return client.post("/accounts/password-reset/", {"email": email})


def reset_link(address: str) -> str:
    settle()
    body = mails_to(address, "password-reset")[-1].body_text
    return re.search(r"https?://\S+(/accounts/reset/\S+/)", body).group(1)


def test_asking_again_and_again_mails_an_organizer_only_a_few_times(client, organizer, settings):
    """A stranger who knows an organizer's address cannot flood their inbox with resets."""
    for _ in range(20):
        assert ask_reset(client, "olivia@example.org").status_code == 302
    settle()
    assert (
        len(mails_to("olivia@example.org", "password-reset")) == settings.MAILS_PER_ADDRESS_PER_HOUR
    )


def test_the_reset_page_says_the_same_for_known_and_unknown_addresses(client, organizer):
    known = ask_reset(client, "olivia@example.org")
    unknown = ask_reset(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url == "/accounts/password-reset/sent/"
    shown = client.get(known.url).content.decode()
    assert "If an account has that address" in shown
    settle()
    assert len(mails_to("olivia@example.org", "password-reset")) == 1
    assert not mails_to("nobody@example.org")
    bad = ask_reset(client, "not an address")
    assert bad.status_code == 200 and "valid email" in bad.content.decode()


def test_a_reset_link_shows_a_form_on_get_and_works_once_on_post(client, organizer):
    other = Client()
    other.force_login(organizer)  # a session that knew the old password
    ask_reset(client, "olivia@example.org")
    link = reset_link("olivia@example.org")
    assert "reset/" in link and not OutgoingEmail.objects.filter(body_text__contains=link)

    form_page = client.get(link, follow=True)  # GET: a form, nothing changed
    assert form_page.status_code == 200 and 'name="new_password1"' in form_page.content.decode()
    organizer.refresh_from_db()
    assert organizer.check_password("pw-olivia-123")
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a-new-long-pass-9482", "new_password2": "a-new-long-pass-9482"}
    )
    assert done.status_code == 302
    organizer.refresh_from_db()
    assert organizer.check_password("a-new-long-pass-9482")
    assert other.get("/organize/").status_code == 302  # signed out everywhere
    again = Client().get(link, follow=True)
    assert "This link does not work" in again.content.decode()


def test_a_reset_link_expires_after_an_hour(client, organizer):
    ask_reset(client, "olivia@example.org")
    link = reset_link("olivia@example.org")
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        late = Client().get(link, follow=True)
    assert "This link does not work" in late.content.decode()


def test_a_new_password_does_not_skip_the_second_factor(client, organizer, letter):
    from undersigned.accounts import factors

    device = factors.start_totp(organizer)
    device.confirmed = True
    device.save()
    ask_reset(client, "olivia@example.org")
    page = client.get(reset_link("olivia@example.org"), follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-pass-9482", "new_password2": "a-new-long-pass-9482"},
    )
    client.post("/accounts/login/", {"username": "olivia", "password": "a-new-long-pass-9482"})
    assert client.get("/organize/").url.startswith("/accounts/verify/")


def test_log_ins_are_limited_per_account_and_the_owner_is_told(client, organizer):
    for _ in range(login.LOGIN_FAILURES_PER_ACCOUNT):
        wrong = client.post("/accounts/login/", {"username": "olivia", "password": "wrong"})
        assert wrong.status_code == 200
    settle()
    told = mails_to("olivia@example.org", "login-failures")
    assert len(told) == 1 and "failed attempts" in told[0].body_text
    right = client.post("/accounts/login/", {"username": "olivia", "password": "pw-olivia-123"})
    assert right.status_code == 200 and "Too many failed log-ins" in right.content.decode()
    unknown = client.post("/accounts/login/", {"username": "ghost", "password": "wrong"})
    for _ in range(login.LOGIN_FAILURES_PER_ACCOUNT):
        unknown = client.post("/accounts/login/", {"username": "ghost", "password": "wrong"})
    assert unknown.status_code == right.status_code  # the same page, whether it exists or not
    assert "Too many failed log-ins" in unknown.content.decode()


def test_log_ins_are_limited_per_client_by_its_keyed_hash(client, organizer, django_user_model):
    for i in range(login.LOGIN_FAILURES_PER_CLIENT):
        client.post("/accounts/login/", {"username": f"user{i}", "password": "wrong"})
    refused = client.post("/accounts/login/", {"username": "olivia", "password": "pw-olivia-123"})
    assert "Too many failed log-ins" in refused.content.decode()
    keys = " ".join(str(key) for key in limits.windows._counts)
    assert "127.0.0.1" not in keys  # the client's keyed hash, never its address


def test_sessions_are_listed_and_signed_out_everywhere(organizer, settings):
    settings.REQUIRE_SECOND_FACTOR = False  # a password logs in (the list is the same with one)
    laptop, phone = Client(HTTP_USER_AGENT="Laptop browser"), Client(HTTP_USER_AGENT="Phone")
    for client in (laptop, phone):
        client.post("/accounts/login/", {"username": "olivia", "password": "pw-olivia-123"})
    assert UserSession.objects.filter(user=organizer).count() == 2
    page = laptop.get("/accounts/").content.decode()
    assert "Laptop browser" in page and "Phone" in page and "(this one)" in page
    assert all(row.started_at.minute == 0 for row in UserSession.objects.all())  # to the hour
    assert laptop.post("/accounts/sessions/end/").status_code == 302
    assert (
        phone.get("/organize/").status_code == 302 and laptop.get("/organize/").status_code == 302
    )
    assert not UserSession.objects.exists()
    assert not Session.objects.filter(session_key__in=[phone.session.session_key]).exists()


def test_the_session_cookie_is_secure_under_https(settings):
    from django.conf import settings as live

    assert live.SESSION_COOKIE_HTTPONLY and live.SESSION_COOKIE_SAMESITE == "Lax"
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "undersigned.settings"}
    env["UNDERSIGNED_BASE_URL"] = "https://letters.example.org"
    code = "from django.conf import settings as s; "
    code += "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "True"]


def test_the_request_does_the_same_work_for_known_and_unknown_addresses(client, organizer):
    """The form only leaves the request for the worker (one insert, the address encrypted):
    it neither looks the account up nor queues a mail, so its time cannot tell either."""
    from django.db import connection

    from undersigned.accounts.models import ResetRequest

    for address in ("olivia@example.org", "nobody@example.org"):
        ask_reset(client, address)
    assert ResetRequest.objects.count() == 2
    assert not OutgoingEmail.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM accounts_resetrequest")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert "olivia" not in stored and "nobody" not in stored
    settle()
    assert not ResetRequest.objects.exists()
    assert len(mails_to("olivia@example.org", "password-reset")) == 1
    assert not mails_to("nobody@example.org")


def test_failed_log_ins_mail_the_owner_no_more_than_the_hourly_cap(client, organizer, settings):
    """Each quarter hour of failures sets one mail off: a stranger who keeps failing all
    hour gets the owner at most the cap's few mails, as every mail a stranger can cause."""
    from undersigned.lib.times import this_hour

    start = this_hour() + timedelta(hours=1, minutes=1)  # six windows' worth in one hour
    for window in range(6):
        with time_machine.travel(start + timedelta(minutes=9 * window)):
            limits.windows.clear()  # as if each were a quarter hour apart
            for _ in range(login.MAIL_AFTER):
                client.post("/accounts/login/", {"username": "olivia", "password": "wrong"})
    settle()
    told = mails_to("olivia@example.org", "login-failures")
    assert len(told) == settings.MAILS_PER_ADDRESS_PER_HOUR
