"""Abuse resistance: limits and blocklists flag without telling, kill switches, bulk
invalidation with dry run and undo, the audit log, the trending report and its alerts."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import drain, last_token, query_plan, settle
from undersigned.events.models import Event
from undersigned.letters.models import Letter
from undersigned.moderation import limits, services, trends
from undersigned.moderation.models import Invalidation, Policy, Trend
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import CountDelta, Signature

pytestmark = pytest.mark.django_db


def sign_and_confirm(letter, email, ip="198.51.100.1", **extra):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(f"/l/{letter.slug}/", {"name": "Sam", "email": email, **extra})
    client.post(f"/v/{last_token()}")
    return response


@pytest.fixture
def one_window():
    """The limits count per minute of the clock (fixed windows): a test that counts up to a
    limit starts at the top of a minute, so that its signatures never fall into two windows
    (once in CI the domain limit's test straddled one and saw one signature too few)."""
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=True):
        yield


def policy(**fields) -> Policy:
    current = Policy.current()
    for name, value in fields.items():
        setattr(current, name, value)
    current.save()
    return current


@pytest.mark.parametrize("shared_cache", [False, True], ids=["per-process", "shared cache"])
def test_signatures_over_the_client_limit_look_accepted_but_are_not_counted(
    letter, monkeypatch, shared_cache, one_window
):
    # Counted in the process's own store, or in Django's cache as with REDIS_URL (here the
    # test settings' local cache, through the same calls).
    monkeypatch.setattr(limits, "SHARED_CACHE", shared_cache)
    policy(burst_per_client=3)
    answers = {sign_and_confirm(letter, f"p{i}@example.org")["Location"] for i in range(5)}
    assert answers == {f"/l/{letter.slug}/signed/"}  # the same answer every time
    assert OutgoingEmail.objects.filter(kind="confirm").count() == 5  # mail as usual
    drain()
    assert Letter.objects.get().signature_count == 3
    assert list(Signature.objects.exclude(flag="").values_list("flag", flat=True)) == [
        "rate-client",
        "rate-client",
    ]
    assert len(Client().get(f"/api/v1/letters/{letter.slug}/signatures").json()["signatures"]) == 3


def test_the_client_limit_is_per_address_and_allowlisted_networks_are_exempt(
    letter, settings, one_window
):
    policy(burst_per_client=1)
    sign_and_confirm(letter, "a@example.org", ip="198.51.100.1")
    sign_and_confirm(letter, "b@example.org", ip="198.51.100.2")  # another client
    from undersigned.lib.config import parse_cidrs

    settings.RATE_LIMIT_ALLOW = parse_cidrs("203.0.113.0/24", "test")
    for i in range(3):
        sign_and_confirm(letter, f"nat{i}@example.org", ip="203.0.113.9")  # an office NAT
    drain()
    assert Letter.objects.get().signature_count == 5


def test_the_domain_limit_spares_big_providers(letter, one_window):
    policy(burst_per_domain=2, burst_per_client=100)
    for i in range(4):
        sign_and_confirm(letter, f"x{i}@tiny.example", ip=f"198.51.100.{i + 1}")
        sign_and_confirm(letter, f"x{i}@gmail.com", ip=f"198.51.100.{i + 1}")
    drain()
    flags = list(Signature.objects.values_list("email_domain", "flag"))
    from undersigned.signatures.privacy import stored_domain

    held = sorted(f for d, f in flags if d == stored_domain("tiny.example", verified=False))
    assert held == ["", "", "rate-domain", "rate-domain"]
    assert all(f == "" for d, f in flags if d == "gmail.com")
    assert Letter.objects.get().signature_count == 6


def test_blocked_domains_and_patterns_are_never_counted(letter):
    policy(blocked_domains="spam.example", blocked_patterns="*+bulk*@example.org")
    sign_and_confirm(letter, "x@spam.example", ip="198.51.100.1")
    sign_and_confirm(letter, "ann+bulk7@example.org", ip="198.51.100.2")
    sign_and_confirm(letter, "bea@example.org", ip="198.51.100.3")
    drain()
    assert Letter.objects.get().signature_count == 1
    assert Signature.objects.filter(flag="blocked").count() == 2


def test_block_patterns_are_shell_wildcards_matched_whole_and_nothing_more():
    patterns = ["*+bulk*@example.org", "  BOT?@example.net ", "", "a.b@example.com"]
    patterns += ["[jk]oe@example.com", "*@*.evil.example", "*crawler*"]
    blocking = policy(blocked_patterns="\n".join(patterns))
    blocked = ["ann+bulk7@example.org", "+bulk@example.org", "bot1@example.net", "a.b@example.com"]
    blocked += ["joe@example.com", "koe@example.com", "x@mx.evil.example", "my-crawler@a.example"]
    spared = ["ann@example.org", "ann+bulk7@example.org.evil", "bot12@example.net"]
    spared += ["axb@example.com", "xa.b@example.com", "bot@example.net"]  # '.' is no wildcard
    spared += ["loe@example.com", "x@evil.example", "crawl@a.example"]
    assert [a for a in blocked + spared if blocking.address_blocked(a)] == blocked


def test_changed_lists_apply_to_the_next_signature():
    # The lists are parsed once per text: a change must not leave the old parse in use.
    assert not Policy.current().address_blocked("x@spam.example")
    policy(blocked_domains="spam.example, junk.example", blocked_patterns="*@bad.example")
    current = Policy.current()
    assert current.address_blocked("x@junk.example") and current.address_blocked("y@bad.example")
    policy(blocked_domains="other.example", blocked_patterns="")
    current = Policy.current()
    assert not current.address_blocked("x@junk.example")
    assert not current.address_blocked("y@bad.example")
    assert current.address_blocked("x@other.example")


def test_the_admin_refuses_a_network_that_is_not_one(admin_client):
    form = {
        "pause_message": "Paused.",
        **dict.fromkeys(["burst_per_client", "sustained_per_client"], 10),
        **dict.fromkeys(["burst_per_domain", "sustained_per_domain"], 300),
        "allowed_domains": "gmail.com",
        "allowed_networks": "192.0.2.0/24, 10.0.0.300/8",
        "blocked_domains": "",
        "blocked_patterns": "",
        "trending_alert_per_hour": 500,
    }
    Policy().save()
    page = admin_client.post("/admin/moderation/policy/1/change/", form)
    assert page.status_code == 200
    assert "&#x27;10.0.0.300/8&#x27; is not an IP address or CIDR range" in page.content.decode()
    assert Policy.objects.get().allowed_networks == ""
    form["allowed_networks"] = "192.0.2.0/24, 2001:db8::/32"
    assert admin_client.post("/admin/moderation/policy/1/change/", form).status_code == 302
    saved = Policy.objects.get()
    assert saved.allowed_networks == "192.0.2.0/24, 2001:db8::/32"
    assert saved.client_allowed(ipaddress.ip_address("192.0.2.7"))
    assert not saved.client_allowed(ipaddress.ip_address("198.51.100.7"))


def test_a_filled_honeypot_is_accepted_on_screen_and_never_counted(letter):
    response = sign_and_confirm(letter, "bot@example.org", website="http://spam.example")
    assert response.status_code == 302
    drain()
    assert Signature.objects.get().flag == "honeypot"
    assert Letter.objects.get().signature_count == 0
    page = Client().get(f"/l/{letter.slug}/").content.decode()
    assert 'class="hp" aria-hidden="true"' in page and 'tabindex="-1"' in page


@pytest.mark.parametrize("switch", ["letter", "instance"])
def test_kill_switches_pause_signing_with_a_message(client, letter, switch):
    if switch == "letter":
        letter.signing_paused, letter.pause_message = True, "Back at noon."
        letter.save()
    else:
        policy(signing_paused=True, pause_message="Back at noon.")
    page = client.get(f"/l/{letter.slug}/").content.decode()
    assert "Back at noon." in page and 'name="email"' not in page
    form = client.post(f"/l/{letter.slug}/", {"name": "Sam", "email": "s@example.org"})
    assert form.status_code == 409 and "Back at noon." in form.content.decode()
    api = client.post(
        f"/api/v1/letters/{letter.slug}/signatures",
        {"name": "Sam", "email": "s@example.org"},
        content_type="application/json",
    )
    assert api.status_code == 409 and api.json()["error"] == "Back at noon."
    assert not Signature.objects.exists()


def test_bulk_invalidation_has_a_dry_run_a_public_reason_an_audit_entry_and_undo(
    letter, admin_user
):
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", ip=f"198.51.100.{i + 1}")
    sign_and_confirm(letter, "real@example.org", ip="198.51.100.9")
    drain()
    criteria = services.Criteria(domain="sock.example")
    assert services.dry_run(letter, criteria) == 3
    assert Letter.objects.get().signature_count == 4  # a dry run changes nothing

    invalidation = services.invalidate(
        letter, criteria, "Sock puppets from one domain.", actor=admin_user, via="admin"
    )
    drain()
    assert invalidation.count == 3 and Letter.objects.get().signature_count == 1
    page = Client().get(f"/l/{letter.slug}/").content.decode()
    assert "3 signatures removed. Sock puppets from one domain." in page
    api = Client().get(f"/api/v1/letters/{letter.slug}").json()
    assert api["invalidations"][0]["count"] == 3
    entry = Event.objects.get(kind="signatures.invalidated")
    assert entry.actor == admin_user and entry.data["count"] == 3

    assert services.undo(invalidation, actor=admin_user, via="admin") == 3
    assert services.undo(invalidation, actor=admin_user, via="admin") == 0  # twice is harmless
    drain()
    assert Letter.objects.get().signature_count == 4
    assert Event.objects.filter(kind="signatures.restored").count() == 1
    from django.core.management import call_command

    call_command("reconcile")
    assert Letter.objects.get().signature_count == 4


@pytest.mark.django_db(transaction=True)  # to see the transactions the code opens itself
def test_invalidating_looks_for_the_signatures_outside_its_write_transaction(letter):
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", ip=f"198.51.100.{i + 1}")
    drain()
    searches = []

    def note(execute, sql, params, many, context):
        if "email_domain" in sql and sql.lstrip().upper().startswith("SELECT"):
            searches.append(connection.in_atomic_block)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        made = services.invalidate(
            letter, services.Criteria(domain="sock.example"), "P.", via="command"
        )
    assert made.count == 3
    # On SQLite a write transaction holds every writer (signing too) until it commits: the
    # search through a surge's rows must not run inside one.
    assert searches == [False]


def test_an_invalidation_takes_only_what_is_still_counted_when_it_writes(letter, monkeypatch):
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", ip=f"198.51.100.{i + 1}")
    drain()
    search = services.matching

    class Stale:
        """The search's answer as it was, before the withdrawal."""

        def __init__(self, letter, criteria):
            self.ids = list(search(letter, criteria).values_list("id", flat=True))
            Signature.objects.filter(pk=self.ids[0]).delete()  # withdrawn meanwhile

        def values_list(self, *fields, flat=False):
            return self.ids

    monkeypatch.setattr(services, "matching", Stale)
    made = services.invalidate(
        letter, services.Criteria(domain="sock.example"), "P.", via="command"
    )
    assert made.count == 2 and Signature.objects.filter(invalidation=made).count() == 2
    assert CountDelta.objects.get().signatures == -2  # what the count loses: the two left


def test_the_admin_invalidates_only_after_a_dry_run(admin_client, letter):
    sign_and_confirm(letter, "s@sock.example")
    drain()
    form = {"letter": letter.pk, "reason": "Puppets.", "domain": "sock.example"}
    dry = admin_client.post("/admin/moderation/invalidation/add/", form)
    assert dry.status_code == 200 and "Dry run: 1 counted signature match" in dry.content.decode()
    assert not Invalidation.objects.exists()
    done = admin_client.post("/admin/moderation/invalidation/add/", {**form, "confirm": "on"})
    assert done.status_code == 302
    assert Invalidation.objects.get().count == 1


def sock() -> str:
    """sock.example as the abuse tools keep it: a keyed hash (a small domain can name its
    owner)."""
    from undersigned.signatures.privacy import stored_domain

    return stored_domain("sock.example", verified=False)


def test_the_trending_report_shows_domains_and_address_hashes(admin_client, letter):
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", ip="198.51.100.7")
    page = admin_client.get(f"/admin/letters/letter/{letter.pk}/trending/")
    html = page.content.decode()
    assert page.status_code == 200 and sock() in html and "sock.example" not in html
    looked_up = admin_client.get(
        f"/admin/letters/letter/{letter.pk}/trending/", {"domain": "Sock.Example"}
    ).content.decode()
    assert f"sock.example is kept as <code>{sock()}</code>" in looked_up
    assert Signature.objects.first().ip_hash in html
    assert "kept only for the last few days" in html


@pytest.mark.parametrize(
    ("hours", "error"),
    [
        ("abc", "Enter a whole number"),
        ("0", "greater than or equal to 1"),
        ("99999999999999999999", "kept only 72 hours"),
        ("-3", "greater than or equal to 1"),
    ],
)
def test_the_trending_report_explains_a_window_it_cannot_show(admin_client, letter, hours, error):
    sign_and_confirm(letter, "s@sock.example")
    page = admin_client.get(f"/admin/letters/letter/{letter.pk}/trending/", {"hours": hours})
    html = page.content.decode()
    assert page.status_code == 200 and error in html
    assert "last <strong>24</strong> hours" in html and sock() in html


def test_the_trending_report_looks_back_as_far_as_asked(admin_client, letter):
    with time_machine.travel(timezone.now() - timedelta(hours=30)):
        sign_and_confirm(letter, "old@sock.example")
    url = f"/admin/letters/letter/{letter.pk}/trending/"
    assert sock() not in admin_client.get(url, {"hours": "24"}).content.decode()
    assert sock() in admin_client.get(url, {"hours": "48"}).content.decode()


def alerts() -> list[tuple[str, str]]:
    """(recipient, first line) of every trend alert mailed so far."""
    settle()
    mails = OutgoingEmail.objects.filter(kind="trend-alert").order_by("id")
    return [(m.to, m.body_text.splitlines()[0]) for m in mails]


def test_operators_get_one_alert_per_key_and_hour_past_the_threshold(letter, django_user_model):
    django_user_model.objects.create_superuser("op", "op@example.org", "pw-op-123456")
    policy(trending_alert_per_hour=2, burst_per_client=100)
    for i in range(2):
        sign_and_confirm(letter, f"s{i}@sock.example", ip="198.51.100.7")
    assert alerts() == []  # two is not more than the threshold
    sign_and_confirm(letter, "s2@sock.example", ip="198.51.100.7")
    sent = alerts()
    assert [to for to, _ in sent] == ["op@example.org"] * 2  # the domain and the client hash
    assert any(f"email domain ({sock()}: a keyed hash" in line for _, line in sent)
    assert all("3 signatures (so far)" in line for _, line in sent)
    sign_and_confirm(letter, "s3@sock.example", ip="198.51.100.7")
    assert len(alerts()) == 2  # once per key and hour
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        for i in range(3):
            sign_and_confirm(letter, f"t{i}@sock.example", ip="198.51.100.7")
    assert len(alerts()) == 4  # a new hour
    assert Event.objects.filter(kind="trend.alert").count() == 4


def test_a_lowered_threshold_alerts_at_the_next_signature(letter, django_user_model):
    django_user_model.objects.create_superuser("op", "op@example.org", "pw-op-123456")
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", ip=f"198.51.100.{i + 1}")
    assert alerts() == []
    policy(trending_alert_per_hour=2)
    sign_and_confirm(letter, "s3@sock.example", ip="198.51.100.9")
    assert [sock() in line for _, line in alerts()] == [True]


def test_the_report_counts_every_batch_the_worker_records_and_the_flagged_ones(letter, one_window):
    policy(burst_per_client=2)
    for batch in range(3):  # the worker records each pair in a batch of its own
        for i in range(2):
            Client(REMOTE_ADDR="198.51.100.7").post(
                f"/l/{letter.slug}/", {"name": "Sam", "email": f"s{batch}{i}@sock.example"}
            )
        settle()
    report = trends.report(letter)
    domains = {row["key"]: row for row in report["email_domain"]}
    assert domains[sock()]["signatures"] == 6
    assert domains[sock()]["flagged"] == 4  # over the client limit of 2 a minute
    (client_row,) = report["ip_hash"]
    assert client_row["signatures"] == 6
    assert client_row["key"] == Signature.objects.first().ip_hash


def test_the_report_reads_its_counts_not_the_signatures(letter):
    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example")
    with CaptureQueriesContext(connection) as queries:
        report = trends.report(letter)
    assert report["email_domain"][0]["signatures"] == 3
    assert len(queries) == 2  # one indexed read per field, however many signed
    assert not [q for q in queries if "signatures_signature" in q["sql"]]


def test_the_report_finds_its_rows_through_the_letter_and_hour_index(letter):
    found = Trend.objects.filter(letter=letter, hour__gte=timezone.now(), field="ip_hash")
    plan = query_plan(found.order_by("-signatures")[:10])
    # SQLite names the index of a unique constraint in CREATE TABLE itself.
    unique_index = "one_trend_per_key_and_hour" in plan or (
        "INDEX sqlite_autoindex_moderation_trend" in plan and "letter_id=? AND hour>?" in plan
    )
    assert unique_index, plan


def test_the_upgrade_counts_the_hours_the_signatures_still_show(letter, django_user_model):
    from importlib import import_module

    from django.apps import apps

    for i in range(3):
        sign_and_confirm(letter, f"s{i}@sock.example", ip="198.51.100.7")
    expected = trends.report(letter)
    Trend.objects.all().delete()
    import_module("undersigned.moderation.migrations.0003_trend").count_recent_signatures(
        apps, None
    )
    assert trends.report(letter) == expected
    assert not Trend.objects.filter(alerted=True).exists()  # 3 is under the threshold (500)


def test_domains_and_address_hashes_are_forgotten_after_the_window(letter, settings):
    from undersigned.signatures.retention import purge

    sign_and_confirm(letter, "s@sock.example")
    assert Trend.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(days=settings.IP_HASH_DAYS)):
        purge()  # still within the window
    assert Trend.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(days=settings.IP_HASH_DAYS + 1)):
        purge()
    assert Signature.objects.values_list("email_domain", "ip_hash").get() == ("", "")
    assert not Trend.objects.exists()


def test_a_policy_change_applies_at_once_in_this_process(letter):
    policy(signing_paused=True)
    assert Policy.current().signing_paused
    policy(signing_paused=False)
    assert not Policy.current().signing_paused
    assert Policy.objects.count() == 1


def test_the_command_line_invalidates_after_a_dry_run_and_undoes(letter, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    sign_and_confirm(letter, "s@sock.example")
    drain()
    call_command("invalidate", letter.slug, "--domain", "sock.example")
    assert "Dry run: 1 counted signatures match" in capsys.readouterr().out
    with pytest.raises(CommandError, match="reason"):
        call_command("invalidate", letter.slug, "--domain", "sock.example", "--confirm")
    call_command(
        "invalidate", letter.slug, "--domain", "sock.example", "--confirm", "--reason", "Puppets."
    )
    drain()
    assert Letter.objects.get().signature_count == 0
    call_command("invalidate", "--undo", str(Invalidation.objects.get().pk))
    drain()
    assert Letter.objects.get().signature_count == 1
    with pytest.raises(CommandError, match="Give an email domain or an IP hash"):
        call_command("invalidate", letter.slug)


def test_the_command_line_pauses_and_resumes(client, letter):
    from django.core.management import call_command

    call_command("pause", letter.slug, "--message", "Back soon.")
    assert "Back soon." in client.get(f"/l/{letter.slug}/").content.decode()
    call_command("pause", "--message", "All paused.")
    assert Policy.current().signing_paused
    call_command("pause", "--resume")
    call_command("pause", letter.slug, "--resume")
    assert 'name="email"' in Client().get(f"/l/{letter.slug}/").content.decode()
    assert Event.objects.filter(kind__in=["letter.paused", "instance.paused"]).count() == 2
