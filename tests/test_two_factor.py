"""Second factors: the authenticator app (TOTP) with a time-travelled clock, recovery codes,
the requirement on every organizer page, and re-authentication before sensitive acts."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from tests.conftest import login_without_factor
from tests.test_team import NOT_OF_A_LETTER, PAGES, people, url_of  # noqa: F401  (fixture)
from undersigned.accounts import factors
from undersigned.accounts.models import ApiToken, OrganizerKey, RecoveryCode, TotpDevice
from undersigned.events.models import Event
from undersigned.letters.models import Demand, Invitation, Organizer
from undersigned.lib import sealing
from undersigned.moderation import limits

NOON = datetime(2026, 6, 1, 12, 0, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Every test here runs at NOON: the per-process counters would carry over."""
    limits.windows.clear()
    yield
    limits.windows.clear()


def with_totp(user) -> pyotp.TOTP:
    """Turn on an authenticator app for ``user`` (as the set-up page does); its TOTP."""
    device = factors.start_totp(user)
    totp = pyotp.TOTP(device.secret)
    assert factors.confirm_totp(device, totp.now(), via="web")
    return totp


def raw_rows(table: str) -> str:
    """What the database holds, as it holds it (no field decrypts it on the way)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608  (a table name of ours)
        return repr(cursor.fetchall())


def log_in(client: Client, user, password: str) -> None:
    response = client.post("/accounts/login/", {"username": user.username, "password": password})
    assert response.status_code == 302


def test_an_organizer_without_a_factor_is_led_to_set_one_up_and_the_app_turns_it_on(
    client, organizer, letter
):
    with time_machine.travel(NOON, tick=False) as clock:
        log_in(client, organizer, "pw-olivia-123")
        led = client.get(f"/organize/{letter.slug}/")
        assert led.status_code == 302
        assert led.url == f"/accounts/two-factor/?next=/organize/{letter.slug}/"
        page = client.get(led.url)
        secret = page.context["secret"]
        assert secret in page.content.decode() and "otpauth://totp/" in page.content.decode()
        wrong = client.post("/accounts/two-factor/", {"code": "000000"})
        assert wrong.status_code == 400 and "not right" in wrong.content.decode()
        shown = client.post("/accounts/two-factor/", {"code": pyotp.TOTP(secret).now()})
        assert shown.status_code == 200
        codes = re.findall(
            r"<code>([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})</code>", shown.content.decode()
        )
        assert len(codes) == 10
        assert client.get(f"/organize/{letter.slug}/").status_code == 200

        # The secret is encrypted at rest, the codes are hashed: neither is in a row.
        rows = raw_rows("accounts_totpdevice") + raw_rows("accounts_recoverycode")
        assert secret not in rows and not any(code in rows for code in codes)
        assert TotpDevice.objects.get(user=organizer).secret == secret  # read back, unlocked

        # Shown once: the page never shows them again.
        clock.shift(60)
        assert not any(code in client.get("/accounts/").content.decode() for code in codes)
    assert Event.objects.filter(kind="account.factor_added").count() == 1


def test_a_totp_code_works_once_and_not_after_a_later_one(client, organizer, letter):
    with time_machine.travel(NOON, tick=False) as clock:
        totp = with_totp(organizer)
        clock.shift(30)
        code = totp.now()
        log_in(client, organizer, "pw-olivia-123")
        assert client.get("/organize/").url == "/accounts/verify/?next=/organize/"
        assert client.post("/accounts/verify/", {"code": code}).status_code == 302
        assert client.get("/organize/").status_code == 200

        again = Client()
        log_in(again, organizer, "pw-olivia-123")
        reused = again.post("/accounts/verify/", {"code": code})  # the same code, same step
        assert reused.status_code == 400 and "used already" in reused.content.decode()
        assert again.get("/organize/").status_code == 302
        clock.shift(-30)  # a code of an earlier step, though still within the drift allowed
        assert again.post("/accounts/verify/", {"code": totp.now()}).status_code == 400
        clock.shift(60)
        assert again.post("/accounts/verify/", {"code": totp.now()}).status_code == 302
        assert again.get("/organize/").status_code == 200


def test_a_code_from_a_minute_away_is_refused(client, organizer):
    with time_machine.travel(NOON, tick=False) as clock:
        totp = with_totp(organizer)
        clock.shift(300)
        stale = totp.at(NOON + timedelta(seconds=240))
        log_in(client, organizer, "pw-olivia-123")
        assert client.post("/accounts/verify/", {"code": stale}).status_code == 400
        assert client.get("/organize/").status_code == 302


def test_recovery_codes_work_once_each(client, organizer):
    with time_machine.travel(NOON, tick=False):
        with_totp(organizer)
        codes = factors.new_recovery_codes(organizer)
        log_in(client, organizer, "pw-olivia-123")
        used = client.post("/accounts/verify/", {"code": codes[0].upper()}, follow=True)
        assert "9 left" in used.content.decode()
        assert client.get("/organize/").status_code == 200
        again = Client()
        log_in(again, organizer, "pw-olivia-123")
        assert again.post("/accounts/verify/", {"code": codes[0]}).status_code == 400
        assert again.post("/accounts/verify/", {"code": codes[1]}).status_code == 302
        assert factors.recovery_codes_left(organizer) == 8


def test_wrong_codes_are_limited_per_account(client, organizer):
    with time_machine.travel(NOON, tick=False):
        totp = with_totp(organizer)
        log_in(client, organizer, "pw-olivia-123")
        for _ in range(factors.CODE_ATTEMPTS):
            assert client.post("/accounts/verify/", {"code": "123-not"}).status_code == 400
    with time_machine.travel(NOON + timedelta(seconds=60), tick=False):
        refused = client.post("/accounts/verify/", {"code": totp.now()})
        assert refused.status_code == 400 and "Too many wrong codes" in refused.content.decode()


def test_wrong_passwords_when_confirming_pause_the_account_too(client, organizer):
    with time_machine.travel(NOON, tick=False):
        totp = with_totp(organizer)
        _stale(client, organizer)
    with time_machine.travel(NOON + timedelta(seconds=60), tick=False):
        for _ in range(factors.CODE_ATTEMPTS):
            client.post("/accounts/confirm/", {"password": "guess", "code": totp.now()})
        refused = client.post(
            "/accounts/confirm/", {"password": "pw-olivia-123", "code": totp.now()}
        )
        assert refused.status_code == 400 and "Too many wrong codes" in refused.content.decode()


def test_a_password_alone_cannot_add_a_factor_to_an_account_that_has_one(client, organizer):
    with time_machine.travel(NOON, tick=False):
        with_totp(organizer)
        log_in(client, organizer, "pw-olivia-123")
        assert client.get("/accounts/two-factor/").url.startswith("/accounts/verify/")
        assert client.post("/accounts/recovery-codes/").url.startswith("/accounts/verify/")
        assert client.post("/accounts/factors/remove-app/").url.startswith("/accounts/verify/")
    assert TotpDevice.objects.filter(user=organizer).exists()


@pytest.mark.parametrize("with_factor", [False, True])
def test_every_organizer_page_needs_the_second_factor(people, letter, with_factor):  # noqa: F811
    owner = people["owner"]
    if with_factor:
        with_totp(owner)
    client = Client()
    login_without_factor(client, owner)
    step = "/accounts/verify/" if with_factor else "/accounts/two-factor/"
    pages = [(url_of(name, letter), method) for (name, method) in PAGES]
    pages += [("/organize/", "GET"), ("/organize/new/", "POST"), ("/organize/keys/", "POST")]
    pages += [("/accounts/", "GET"), ("/accounts/tokens/", "POST"), ("/admin/", "GET")]
    assert {name for name in NOT_OF_A_LETTER} == {"dashboard", "create", "keys", "join"}
    for url, method in pages:
        response = client.get(url) if method == "GET" else client.post(url, {"confirm": "yes"})
        assert response.status_code == 302 and response.url.startswith(step), (url, method)
    letter.refresh_from_db()
    assert letter.status == "open" and Organizer.objects.filter(letter=letter).count() == 3
    assert not Event.objects.filter(kind="letter.exported").exists()


def test_without_the_requirement_a_password_is_enough_unless_the_account_has_a_factor(
    settings, client, organizer, letter
):
    settings.REQUIRE_SECOND_FACTOR = False
    login_without_factor(client, organizer)
    assert client.get("/organize/").status_code == 200
    with_totp(organizer)
    assert client.get("/organize/").url.startswith("/accounts/verify/")


def test_the_requirement_is_on_unless_the_operator_turns_it_off():
    import os
    import subprocess
    import sys

    def required(value):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "undersigned.settings"}
        env.pop("UNDERSIGNED_REQUIRE_SECOND_FACTOR", None)
        if value is not None:
            env["UNDERSIGNED_REQUIRE_SECOND_FACTOR"] = value
        code = "from django.conf import settings; print(settings.REQUIRE_SECOND_FACTOR)"
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert required(None) == "True"
    assert required("false") == "False"


def test_a_token_is_not_made_by_command_for_an_organizer_without_a_factor(organizer, letter):
    with pytest.raises(CommandError, match="no second factor"):
        call_command("token", "create", "olivia", "--scope", "read")
    assert not ApiToken.objects.exists()


# --- re-authentication --------------------------------------------------------------------------


def _stale(client: Client, user) -> None:
    """A session that showed its factor, ten minutes ago."""
    client.force_login(user)
    session = client.session
    session[factors.AUTH_AT] -= 10 * 60
    session.save()


def _act_export(client, letter):
    return client.get(f"/organize/{letter.slug}/export.csv")


def _did_export(letter):
    return Event.objects.filter(kind="letter.exported").exists()


def _act_key(client, letter):
    return client.post("/organize/keys/", {"public_key": sealing.generate_keypair()[1]})


def _did_key(letter):
    return OrganizerKey.objects.exists()


def _act_invite(client, letter):
    return client.post(
        f"/organize/{letter.slug}/team/invite/", {"email": "new@example.org", "role": "viewer"}
    )


def _did_invite(letter):
    return Invitation.objects.exists()


def _act_remove(client, letter):
    return client.post(f"/organize/{letter.slug}/team/remove/carlos/", {"confirm": "yes"})


def _did_remove(letter):
    return not Organizer.objects.filter(letter=letter, user__username="carlos").exists()


def _act_update(client, letter):
    return client.post(
        f"/organize/{letter.slug}/update/", {"body": "News.", "mail": "on", "action": "post"}
    )


def _did_update(letter):
    return letter.updates.filter(body="News.").exists()


def _act_demand(client, letter):
    demand = Demand.objects.get_or_create(letter=letter, text="Stop it.")[0]
    return client.post(
        f"/organize/{letter.slug}/demand/",
        {"demand": demand.pk, "status": "met", "note": "", "mail": "on"},
    )


def _did_demand(letter):
    return Demand.objects.filter(letter=letter, status="met").exists()


def _act_response(client, letter):
    return client.post(
        f"/organize/{letter.slug}/response/",
        {
            "by": "The Council",
            "date": "2026-05-30",
            "quote": "We hear you.",
            "sources": "https://news.example/a",
            "mail": "on",
        },
    )


def _did_response(letter):
    return letter.responses.exists()


def _act_token(client, letter):
    return client.post(
        "/accounts/tokens/", {"label": "script", "scope": "read", "expires_days": "30"}
    )


def _did_token(letter):
    return ApiToken.objects.exists()


def _act_codes(client, letter):
    return client.post("/accounts/recovery-codes/")


def _did_codes(letter):
    return (
        RecoveryCode.objects.count() == 10
        and Event.objects.filter(kind="account.recovery_codes").count() == 2
    )


def _act_remove_factor(client, letter):
    return client.post("/accounts/factors/remove-app/")


def _did_remove_factor(letter):
    return not TotpDevice.objects.exists()


def _met_pledge(letter):
    from undersigned.pledges import deciding
    from undersigned.pledges.models import Commitment, Pledge

    found = Pledge.objects.filter(slug="leave").first()
    if found is None:
        from tests.test_pledges import make_pledge

        found = make_pledge(threshold=1, letter=letter)
        Commitment.objects.create(pledge=found, status="confirmed", email="a@example.org")
        deciding.decide()
    return found


def _act_announce(client, letter):
    pledge = _met_pledge(letter)
    return client.post(
        f"/organize/{letter.slug}/pledges/{pledge.slug}/announce/",
        {"subject": "We did it", "body": "Thank you."},
    )


def _did_announce(letter):
    from undersigned.pledges.models import Pledge

    return Pledge.objects.filter(announced_at__isnull=False).exists()


SENSITIVE = [
    (_act_export, _did_export),
    (_act_key, _did_key),
    (_act_invite, _did_invite),
    (_act_remove, _did_remove),
    (_act_update, _did_update),
    (_act_demand, _did_demand),
    (_act_response, _did_response),
    (_act_token, _did_token),
    (_act_codes, _did_codes),
    (_act_remove_factor, _did_remove_factor),
    (_act_announce, _did_announce),
]


@pytest.mark.parametrize(("act", "done"), SENSITIVE, ids=lambda f: f.__name__)
def test_a_sensitive_act_asks_to_confirm_it_is_you_first(client, organizer, letter, act, done):
    with time_machine.travel(NOON, tick=False) as clock:
        totp = with_totp(organizer)
        factors.new_recovery_codes(organizer)
        _stale(client, organizer)
        clock.shift(30)
        asked = act(client, letter)
        assert asked.status_code == 302 and asked.url.startswith("/accounts/confirm/")
        assert not done(letter)

        wrong = client.post(asked.url, {"password": "pw-olivia-123", "code": "000000"})
        assert wrong.status_code == 400
        no_password = client.post(asked.url, {"password": "nope", "code": totp.now()})
        assert no_password.status_code == 400
        confirmed = client.post(asked.url, {"password": "pw-olivia-123", "code": totp.now()})
        assert confirmed.status_code == 302
        response = act(client, letter)
        assert response.status_code in (200, 302) and not response.get("Location", "").startswith(
            "/accounts/confirm/"
        )
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        assert done(letter)

        clock.shift(factors.REAUTH_SECONDS + 1)  # a few minutes later it asks again
        again = "/accounts/two-factor/" if act is _act_remove_factor else "/accounts/confirm/"
        assert act(client, letter).url.startswith(again)  # (no factor left: set one up)


# --- passkeys: the refusals (the ceremonies run in Chromium: tests/test_browser_passkeys.py) --


def test_a_passkey_answer_without_its_challenge_or_with_bad_json_is_refused(client, organizer):
    for body in (b"{not json", b"[]", json.dumps({"credential": {"id": "x"}}).encode()):
        response = client.post("/accounts/passkeys/login/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]
    client.post("/accounts/passkeys/login/options")
    forged = {"credential": {"id": "AAAA", "rawId": "AAAA", "response": {}, "type": "public-key"}}
    response = client.post("/accounts/passkeys/login/", forged, content_type="application/json")
    assert response.status_code == 400 and "not accepted" in response.json()["error"]
    assert client.get("/organize/").status_code == 302  # not logged in


def test_a_password_alone_cannot_register_a_passkey_on_an_account_with_a_factor(client, organizer):
    with time_machine.travel(NOON, tick=False):
        with_totp(organizer)
        login_without_factor(client, organizer)
        assert client.post("/accounts/two-factor/passkey/options").status_code == 403
        assert client.post("/accounts/two-factor/passkey/", {}).status_code == 403


def test_with_the_app_on_the_set_up_page_offers_only_a_passkey(client, organizer):
    with time_machine.travel(NOON, tick=False):
        with_totp(organizer)
        client.force_login(organizer)  # shown a factor just now
        page = client.get("/accounts/two-factor/")
        assert page.status_code == 200 and "Add a passkey" in page.content.decode()
        assert 'id="totp-secret"' not in page.content.decode()
        secret = TotpDevice.objects.get(user=organizer).secret
        client.post("/accounts/two-factor/", {"code": pyotp.TOTP(secret).now()})
        assert TotpDevice.objects.get(user=organizer).secret == secret  # unchanged


def test_no_code_or_secret_reaches_the_logs(client, organizer, caplog):
    with time_machine.travel(NOON, tick=False), caplog.at_level(logging.DEBUG):
        totp = with_totp(organizer)
        codes = factors.new_recovery_codes(organizer)
        log_in(client, organizer, "pw-olivia-123")
        client.post("/accounts/verify/", {"code": "314159"})
        client.post("/accounts/verify/", {"code": codes[0] + "x"})
        client.post("/accounts/verify/", {"code": codes[1]})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Bad Request: /accounts/verify/" in logged  # the failures were logged, without:
    secret = TotpDevice.objects.get(user=organizer).secret
    for private in [secret, "314159", totp.now(), *codes]:
        assert private not in logged
