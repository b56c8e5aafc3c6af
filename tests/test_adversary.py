"""Attacks on signers, the count and an organization's letter, run through the public
interfaces the way an adversary would (issue 12): an employer who reads work mail and wants a
letter to fail, a bot with one mailbox, a stranger who knows a colleague's address."""

from __future__ import annotations

from datetime import timedelta

import hypothesis
import pytest
from django.core.mail import EmailMessage
from django.core.mail.message import sanitize_address
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from tests.conftest import mails_to, make_letter, settle
from undersigned.letters.models import Letter
from undersigned.lib.emails import canonical_email
from undersigned.outbox.models import MailQuota, OutgoingEmail
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db

API = "/api/v1/letters/{}/signatures"


def api_sign(letter, ip="198.51.100.20", client=None, **fields):
    data = {"name": "Ada Lovelace", "email": "ada@example.org", "display": "public", **fields}
    return (client or Client(REMOTE_ADDR=ip)).post(
        API.format(letter.slug), data, content_type="application/json"
    )


# --- 2. one mailbox, many signatures --------------------------------------------------------


def delivered_mailbox(address: str) -> str:
    """The mailbox a mail server delivers ``address`` to, worked out independently of our
    code from RFC 5321/5322: a quoted local part is its content with backslash escapes
    undone; the part before the @ is matched without regard to case; a sub-address
    (``+tag``, RFC 5233) reaches its base mailbox; the domain is case-insensitive."""
    local, _, domain = address.rpartition("@")
    if local.startswith('"') and local.endswith('"'):
        quoted, local = local[1:-1], ""
        escaped = False
        for char in quoted:
            if escaped or char != "\\":
                local += char
            escaped = not escaped and char == "\\"
    local = local.lower().partition("+")[0] or local.lower()
    return f"{local}@{domain.lower().rstrip('.')}"


def spellings(local: str = "worker", domain: str = "company.example"):
    """Spellings of one mailbox that RFC 5322 allows: case, quotes, backslash escapes,
    sub-addresses, a trailing dot on the domain, comments."""
    case = st.lists(st.booleans(), min_size=len(local), max_size=len(local)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(local, upper, strict=True))
    )

    def quoted(text: str, escapes: list[bool]) -> str:
        return '"' + "".join("\\" + c if e else c for c, e in zip(text, escapes, strict=True)) + '"'

    escapes = st.lists(st.booleans(), min_size=len(local), max_size=len(local))
    local_part = st.one_of(
        case,
        st.builds(quoted, case, escapes),
        st.builds(lambda text, tag: f"{text}+{tag}", case, st.text("abcxyz0123", max_size=6)),
        st.builds(lambda text: f"{text}(comment)", case),
    )
    domain_part = st.sampled_from([domain, domain.upper(), domain + ".", f"[{'192.0.2.1'}]"])
    return st.builds(lambda lp, dp: f"{lp}@{dp}", local_part, domain_part)


@pytest.mark.slow
@hypothesis.settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(addresses=st.lists(spellings(), min_size=1, max_size=8))
def test_one_mailbox_gets_one_signature_whatever_its_spelling(organizer, settings, addresses):
    settings.MAILS_PER_ADDRESS_PER_HOUR = 100  # this is about spellings, not the mail cap
    Letter.objects.filter(slug="one-box").delete()
    OutgoingEmail.objects.all().delete()
    MailQuota.objects.all().delete()
    letter = make_letter([organizer], slug="one-box", domains="company.example")
    for address in addresses:
        response = api_sign(letter, email=address)
        if response.status_code == 400:  # refused, with a message for the person
            assert response.json()["fields"]["email"], address
            continue
        assert response.status_code == 202, (address, response.content)
        # Each accepted spelling reaches the one mailbox, as the SMTP layer addresses it...
        settle()
        sent = OutgoingEmail.objects.latest("id")
        message = EmailMessage("s", "b", "from@example.org", [sent.to])
        envelope = [sanitize_address(to, "utf-8") for to in message.recipients()]
        assert [delivered_mailbox(to) for to in envelope] == ["worker@company.example"]
        # ... and names it as we do.
        assert canonical_email(sent.to) == "worker@company.example"
    assert Signature.objects.filter(letter=letter).count() <= 1
    letter.delete()


@pytest.mark.parametrize(
    "address",
    [
        '"worker"@company.example',
        '"w\\orker"@company.example',
        "worker(me)@company.example",
        "worker@[192.0.2.1]",
        ".worker@company.example",
        "wor..ker@company.example",
    ],
)
def test_other_spellings_of_a_mailbox_are_refused_with_a_clear_message(letter, address):
    response = api_sign(letter, email=address)
    assert response.status_code == 400
    message = " ".join(response.json()["fields"]["email"])
    assert "plain way" in message or "single dots" in message or "valid email" in message
    page = Client().post(
        f"/l/{letter.slug}/", {"name": "Ada", "email": address, "display": "public"}
    )
    assert page.status_code == 400 and b"errors" in page.content
    settle()
    assert not Signature.objects.exists() and not OutgoingEmail.objects.exists()


def test_sub_addresses_reach_one_mailbox_and_count_once(letter):
    for tag in ("", "+1", "+2", "+letters"):
        assert api_sign(letter, email=f"worker{tag}@company.example").status_code == 202
    settle()
    assert Signature.objects.filter(letter=letter).count() == 1
    assert canonical_email("Worker+x@Company.Example") == "worker@company.example"
    assert canonical_email("+only@x.example") == "+only@x.example"  # nothing before the +


# --- 1. a stranger who knows a hidden signer's address ---------------------------------------


def page_sign(letter, ip="198.51.100.30", **fields):
    data = {"name": "Val Weiss", "email": "val@company.example", "display": "hidden", **fields}
    return Client(REMOTE_ADDR=ip).post(f"/l/{letter.slug}/", data)


def links_to(address: str) -> list[tuple[str, str]]:
    """(confirmation token, receipt) of every mail sent to ``address``, oldest first."""
    settle()
    found = []
    for mail in mails_to(address):
        body = mail.body_text
        token = body.split("/v/")[1].split()[0] if "/v/" in body else ""
        found.append((token, body.split("/s/")[1].split()[0]))
    return found


def public_list(letter) -> str:
    from undersigned.web.caching import recent

    recent.clear()
    return Client().get(f"/l/{letter.slug}/").content.decode()


@pytest.fixture
def hidden_victim(organizer):
    from undersigned.accounts.models import OrganizerKey
    from undersigned.lib import sealing

    OrganizerKey.objects.register(organizer, sealing.generate_keypair()[1])
    letter = make_letter([organizer], slug="contract", organization="Company")
    page_sign(letter)
    [(first, _)] = links_to("val@company.example")
    return letter, first


def test_a_strangers_later_submission_cannot_out_a_hidden_signer(hidden_victim):
    letter, first = hidden_victim
    outing = {"display": "public", "comment": "I am the one who leaked the memo"}
    assert (
        api_sign(letter, ip="203.0.113.66", email="val@company.example", **outing).status_code
        == 202
    )
    [_, (second, _)] = links_to("val@company.example")

    # The victim's first link still works, and says what confirming publishes.
    page = Client().get(f"/v/{first}")
    assert page.status_code == 200
    assert "Without your name" in page.content.decode() and "leaked" not in page.content.decode()
    # The stranger's link says what it would publish, so the owner can refuse it.
    trap = Client().get(f"/v/{second}").content.decode()
    assert "Val Weiss" not in trap or "publicly" in trap
    assert "I am the one who leaked the memo" in trap and "publicly" in trap

    assert Client().post(f"/v/{first}").status_code == 200
    assert Client().post(f"/v/{second}").status_code == 200  # "already confirmed"
    signature = Signature.objects.get(letter=letter)
    assert signature.display == "hidden" and not signature.name and not signature.comment
    assert signature.is_counted
    assert "leaked" not in public_list(letter) and "Ada Lovelace" not in public_list(letter)


def test_a_strangers_bot_trap_submission_cannot_stop_a_signer_counting(hidden_victim):
    letter, first = hidden_victim
    Client(REMOTE_ADDR="203.0.113.66").post(
        f"/l/{letter.slug}/",
        {"name": "X", "email": "val@company.example", "display": "hidden", "website": "spam"},
    )
    settle()
    assert Client().post(f"/v/{first}").status_code == 200
    signature = Signature.objects.get(letter=letter)
    assert signature.is_counted and not signature.flag


def test_signing_again_after_confirming_changes_nothing_without_the_private_link(hidden_victim):
    letter, first = hidden_victim
    Client().post(f"/v/{first}")
    before = Signature.objects.values().get(letter=letter)
    api_sign(letter, ip="203.0.113.66", email="val@company.example", display="public")
    mails = links_to("val@company.example")
    assert OutgoingEmail.objects.latest("id").kind == "already-signed"
    assert mails[-1][0] == ""  # no link that confirms anything
    assert Signature.objects.values().get(letter=letter) == before


# --- 3. holds: nobody is silently dropped, nobody silences an organization --------------------


def sign_and_confirm(letter, email, ip, **fields):
    """The confirmation page, with the signer's private link as ``.receipt``."""
    assert api_sign(letter, ip=ip, email=email, **fields).status_code == 202
    settle()
    body = mails_to(email)[-1].body_text
    page = Client(REMOTE_ADDR=ip).post(f"/v/{body.split('/v/')[1].split()[0]}")
    page.receipt = body.split("/s/")[1].split()[0]
    return page


def counts(letter) -> tuple[int, int]:
    from tests.conftest import drain

    drain()
    letter.refresh_from_db()
    return letter.signature_count, letter.held_count


@pytest.mark.slow
def test_300_colleagues_behind_one_nat_all_count_on_their_companys_letter(organizer):
    letter = make_letter([organizer], slug="ours", domains="company.example")
    for i in range(300):
        sign_and_confirm(letter, f"colleague{i}@company.example", "192.0.2.1")
    assert counts(letter) == (300, 0)


@pytest.mark.slow
def test_200_people_on_one_conference_wifi_within_ten_minutes_all_count(letter):
    import time_machine
    from django.utils import timezone

    start = timezone.now()
    for i in range(200):
        with time_machine.travel(start + timedelta(seconds=3 * i), tick=False):
            sign_and_confirm(letter, f"guest{i}@uni{i % 37}.example", "192.0.2.7")
    assert counts(letter) == (200, 0)


@pytest.mark.slow
def test_a_bot_signing_1000_times_a_minute_from_one_address_is_held(letter):
    import time_machine
    from django.utils import timezone

    minute = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(minute, tick=False):  # all in one minute of the clock
        for i in range(1000):
            sign_and_confirm(letter, f"bot{i}@catch-all.example", "203.0.113.9")
    counted, held = counts(letter)
    assert counted + held == 1000  # held, not dropped
    assert counted <= 60 and held >= 940


def test_junk_nobody_confirms_cannot_use_up_an_organizations_room(letter):
    for i in range(305):  # one client, 305 unconfirmed signatures at the company's domain
        api_sign(letter, ip="203.0.113.10", email=f"junk{i}@company.example")
    settle()
    reply = sign_and_confirm(letter, "real.employee@company.example", "198.51.100.44")
    assert "held" not in reply.content.decode()
    assert counts(letter) == (1, 0)


def test_twelve_people_behind_one_nat_are_counted_or_visibly_held(letter, organizer):
    from tests.test_moderation import policy

    policy(burst_per_client=10)
    pages = [sign_and_confirm(letter, f"p{i}@example.org", "192.0.2.50") for i in range(12)]
    held_pages = [p for p in pages if "held for review" in p.content.decode()]
    assert len(held_pages) == 2  # they are told, and it is not lost
    assert counts(letter) == (10, 2)
    assert Client().get(f"/api/v1/letters/{letter.slug}").json()["held_count"] == 2
    assert 'id="held-count">2<' in public_list(letter)
    browser = Client()
    browser.force_login(organizer)
    workspace = browser.get(f"/organize/{letter.slug}/").content.decode()
    assert "many signatures from one network within minutes" in workspace
    assert '<dd id="held-count">2</dd>' in workspace
    # Their private page says so too.
    assert 'id="held"' in Client().get(f"/s/{held_pages[0].receipt}").content.decode()
    # The organizer counts them, and it is on the public record.
    response = browser.post(
        f"/organize/{letter.slug}/held/", {"reason": "rate-client", "action": "release"}
    )
    assert response.status_code == 302
    assert counts(letter) == (12, 0)
    from undersigned.events.models import Event

    assert Event.objects.get(kind="signatures.released").data["count"] == 2


def test_held_signatures_can_be_removed_with_a_public_reason_and_put_back(letter, admin_client):
    from tests.test_moderation import policy
    from undersigned.moderation import services
    from undersigned.moderation.models import Invalidation

    policy(burst_per_client=1)
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", "192.0.2.60")
    assert counts(letter) == (1, 2)
    form = {"reason": "rate-client", "action": "invalidate", "public_reason": "Sock puppets."}
    assert admin_client.post(f"/admin/letters/letter/{letter.pk}/held/", form).status_code == 302
    assert counts(letter) == (1, 0)
    assert "Sock puppets." in public_list(letter)
    services.undo(Invalidation.objects.get(), via="command")
    assert counts(letter) == (1, 2)  # held again, not counted
    from undersigned.signatures import counting

    assert counting.reconcile() == []


def test_an_owner_signing_again_later_clears_a_hold(letter):
    import time_machine
    from django.utils import timezone

    from tests.test_moderation import policy

    policy(burst_per_client=1)
    sign_and_confirm(letter, "first@example.org", "192.0.2.70")
    sign_and_confirm(letter, "second@example.org", "192.0.2.70")
    assert counts(letter) == (1, 1)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        reply = sign_and_confirm(letter, "second@example.org", "198.51.100.71")
        assert "confirmed" in reply.content.decode()
    assert counts(letter) == (2, 0)


# --- 4. the limits cannot be reset by reading -------------------------------------------------


def test_reading_pages_cannot_empty_the_rate_limit_counters(letter, monkeypatch):
    from tests.test_moderation import policy
    from undersigned.web import caching

    policy(burst_per_client=5, sustained_per_client=5)
    monkeypatch.setattr(caching, "_MAX_ENTRIES", 50)  # the bound the attack fills, smaller
    for round_ in range(3):
        for i in range(5):
            api_sign(letter, ip="203.0.113.20", email=f"r{round_}-{i}@example.org")
        for cursor in range(60):  # fresh cursors: new page copies, until the store is full
            Client().get(f"/l/{letter.slug}/?after={round_ * 1000 + cursor}")
    settle()
    unheld = Signature.objects.filter(letter=letter, flag="").count()
    assert unheld == 5


# --- 5. mail bombing ----------------------------------------------------------------------


def test_hundreds_of_requests_send_an_address_only_a_few_mails(organizer):
    members = make_letter(
        [organizer], slug="members", visibility="members", domains="company.example"
    )
    public = make_letter([organizer], slug="public-one")
    answers = set()
    for i in range(100):
        response = api_sign(public, ip=f"198.51.{i}.1", email="target@company.example")
        answers.add((response.status_code, response.content))
        page = Client(REMOTE_ADDR=f"198.52.{i}.1").post(
            f"/l/{members.slug}/members/", {"email": "target@company.example"}
        )
        answers.add((page.status_code, b"Check your" in page.content))
    settle()
    assert len(mails_to("target@company.example")) <= 3
    assert len(answers) == 2  # one answer per form, mail or not


# --- 6. other holes -----------------------------------------------------------------------


def test_one_ipv6_network_is_one_client(letter):
    from tests.test_moderation import policy

    policy(burst_per_client=10)
    for i in range(15):
        api_sign(letter, ip=f"2001:db8:1:2::{i + 1:x}", email=f"v6-{i}@example.org")
    for i in range(3):  # the same IPv4 client, written as a v4-mapped IPv6 address or not
        api_sign(letter, ip="::ffff:198.51.100.90", email=f"m{i}@example.org")
        api_sign(letter, ip="198.51.100.90", email=f"n{i}@example.org")
    settle()
    hashes = set(Signature.objects.values_list("ip_hash"))
    assert len(hashes) == 2
    assert Signature.objects.filter(flag="rate-client").count() == 5


def test_the_organizer_pages_do_not_move_when_an_address_is_signed(letter, organizer):
    import re

    browser = Client()
    browser.force_login(organizer)

    def workspace() -> list[str]:
        pages = [
            browser.get(u).content.decode() for u in ("/organize/", f"/organize/{letter.slug}/")
        ]
        return [re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", p) for p in pages]

    before = workspace()
    api_sign(letter, email="colleague@company.example")  # has this colleague signed?
    settle()
    assert workspace() == before


def test_operators_cannot_publish_a_hidden_signer_under_any_name(letter, admin_client):
    Signature.objects.create(
        letter=letter, status="confirmed", display="hidden", email_hash="a" * 64
    )
    signature = Signature.objects.get()
    before = Signature.objects.values().get()
    url = f"/admin/signatures/signature/{signature.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b'name="name"' not in page.content  # view only
    forged = {"display": "public", "name": "Val Weiss", "comment": "I leaked it"}
    assert admin_client.post(url, forged).status_code == 403
    assert (
        admin_client.post(
            f"/admin/signatures/signature/{signature.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert Signature.objects.values().get() == before


@pytest.fixture
def counted_checks(settings):
    from tests.hashers import CountingHasher

    settings.PASSWORD_HASHERS = ["tests.hashers.CountingHasher"]
    CountingHasher.checks = 0
    return CountingHasher


def log_in(username, password, ip="203.0.113.80"):
    browser = Client(REMOTE_ADDR=ip)
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    return response, "_auth_user_id" in browser.session


def test_guessing_a_password_stops_before_the_password_is_checked(
    django_user_model, counted_checks
):
    django_user_model.objects.create_user("olga", "olga@example.org", "right-password-123")
    counted_checks.checks = 0
    for i in range(300):
        response, logged_in = log_in("olga", f"guess-{i}")
        assert response.status_code == 200 and not logged_in
    assert counted_checks.checks <= 10  # the limit, not 300 checks
    response, logged_in = log_in("olga", "right-password-123")
    assert not logged_in and "Too many failed log-ins" in response.content.decode()
    # From another network too: the limit is the account's.
    assert not log_in("olga", "right-password-123", ip="198.51.100.81")[1]
    # An account that does not exist gets the same page.
    for i in range(12):
        log_in("nobody", f"guess-{i}", ip="198.51.100.82")
    unknown, _ = log_in("nobody", "x", ip="198.51.100.82")
    known, _ = log_in("olga", "x", ip="198.51.100.82")
    strip = __import__("re").compile(rb' value="[^"]*"')  # the token, the name typed
    assert strip.sub(b"", unknown.content) == strip.sub(b"", known.content)
    assert unknown.status_code == known.status_code


def test_one_client_cannot_guess_across_many_accounts(django_user_model, counted_checks):
    for i in range(40):
        log_in(f"someone{i}", "guess")
    assert counted_checks.checks <= 20
