"""Conditional pledges: commit by email like signing (confirmed by POST, private until met),
decided exactly once in the worker under the counter's lock (two workers, a jump past N),
failed at the deadline with every commitment deleted, each mail once per committer, the one
announcement after success, and bad input on the page, the API and the command."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import mails_to, make_letter
from tests.test_hostile import HOSTILE, check_status, content_type, raw_body, rolled_back, text
from tests.test_hostile import client as hostile_client
from tests.test_hostile import email as any_email
from undersigned.events.fanout import fan_out
from undersigned.events.models import Event
from undersigned.outbox import sending
from undersigned.outbox.models import OutgoingEmail
from undersigned.pledges import deciding, services, telling
from undersigned.pledges.models import Commitment, CommitmentReceipt, Pledge
from undersigned.signatures.services import SignatureData
from undersigned.web.caching import recent

pytestmark = pytest.mark.django_db


def make_pledge(slug="leave", threshold=3, days=10, publish=True, **fields) -> Pledge:
    spec = services.PledgeSpec(
        slug=slug,
        action=fields.pop("action", "move my projects elsewhere"),
        threshold=threshold,
        deadline=(timezone.now() + timedelta(days=days)).date(),
        **fields,
    )
    return services.create(spec, publish=publish, via="command")


def link(row: OutgoingEmail, prefix: str) -> str:
    for word in row.body_text.split():
        if f"/{prefix}/" in word:
            return word.rsplit(f"/{prefix}/", 1)[1]
    raise AssertionError(f"no /{prefix}/ link in {row.body_text!r}")


def form(email, name="Ada Maintainer", display="public", **more) -> dict:
    return {"name": name, "email": email, "display": display, **more}


def commit(client, pledge, email, **fields):
    return client.post(f"/p/{pledge.slug}/", form(email, **fields))


def confirm(client, email) -> None:
    token = link(mails_to(email, "pledge-confirm")[-1], "pv")
    assert client.post(f"/pv/{token}").status_code == 200


def committed(client, pledge, *emails, **fields) -> None:
    for email in emails:
        assert commit(client, pledge, email, **fields).status_code == 302
        confirm(client, email)


def run_worker() -> None:
    """What the worker's pledge jobs do, to completion."""
    deciding.decide()
    while telling.tell():
        pass
    recent.clear()  # as this process's second-long copies of pages would expire


def test_it_confirms_a_commitment_with_post_not_get(client):
    pledge = make_pledge()
    response = commit(client, pledge, "ada@example.org")
    assert response.status_code == 302 and response["Location"] == "/p/leave/committed/"
    token = link(mails_to("ada@example.org", "pledge-confirm")[0], "pv")
    page = client.get(f"/pv/{token}")
    assert page.status_code == 200 and b"Confirm your commitment" in page.content
    assert Commitment.objects.get().status == Commitment.Status.PENDING
    assert client.post(f"/pv/{token}").status_code == 200
    assert Commitment.objects.get().status == Commitment.Status.CONFIRMED
    assert client.post(f"/pv/{token}").status_code == 200  # twice: harmless
    assert client.post("/pv/not-a-token").status_code == 404


def test_until_met_only_the_count_is_public(client):
    pledge = make_pledge(threshold=5)
    committed(client, pledge, "ada@example.org", "bo@example.org", name="Ada Visible")
    run_worker()
    page = client.get("/p/leave/").content.decode()
    assert "Ada Visible" not in page
    assert '<strong id="commitment-count">2</strong> of 5' in page
    api = client.get("/api/v1/pledges/leave").json()
    assert api["commitment_count"] == 2 and api["status"] == "open" and api["met_at"] is None
    assert "Ada Visible" not in json.dumps(api)


def test_a_jump_past_the_threshold_meets_it_once_and_tells_each_committer_once(client):
    pledge = make_pledge(threshold=3)
    emails = [f"c{i}@example.org" for i in range(5)]
    committed(client, pledge, *emails, name="Cy Public")
    assert deciding.decide() == 1
    assert deciding.decide() == 0
    while telling.tell():
        pass
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.MET and pledge.commitment_count == 5
    assert pledge.met_at == timezone.now().replace(minute=0, second=0, microsecond=0)
    for email in emails:
        assert len(mails_to(email, "pledge-met")) == 1
    page = client.get("/p/leave/").content.decode()
    assert "Met</strong> on" in page and "Cy Public" in page


def test_a_later_committer_is_told_it_is_live_too(client):
    pledge = make_pledge(threshold=1)
    committed(client, pledge, "first@example.org")
    run_worker()
    committed(client, pledge, "late@example.org")
    run_worker()
    assert len(mails_to("first@example.org", "pledge-met")) == 1
    assert len(mails_to("late@example.org", "pledge-met")) == 1
    assert Pledge.objects.get().commitment_count == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_meet_a_pledge_exactly_once(client, organizer):
    letter = make_letter([organizer], slug="forge-letter")
    pledge = make_pledge(threshold=4, letter=letter)
    emails = [f"w{i}@example.org" for i in range(12)]
    committed(client, pledge, *emails)
    barrier = threading.Barrier(2)
    errors = []

    def work():
        try:
            barrier.wait(timeout=10)
            for _ in range(5):
                deciding.decide()
                telling.tell(limit=3)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    run_worker()
    assert Pledge.objects.get().status == Pledge.Status.MET
    assert Event.objects.filter(kind="pledge.met").count() == 1
    assert sorted(row.to for row in OutgoingEmail.objects.filter(kind="pledge-met")) == sorted(
        emails
    )


def test_a_pledge_fails_at_its_deadline_and_its_private_data_is_deleted(client, organizer):
    letter = make_letter([organizer])
    pledge = make_pledge(threshold=3, days=1, letter=letter)
    committed(client, pledge, "ada@example.org", "bo@example.org", name="Ada Secret")
    commit(client, pledge, "pending@example.org")  # never confirmed
    run_worker()
    assert Pledge.objects.get().status == Pledge.Status.OPEN
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert deciding.decide() == 1
        while telling.tell():
            pass
    pledge.refresh_from_db()
    assert pledge.status == Pledge.Status.FAILED and pledge.commitment_count == 2
    assert not Commitment.objects.exists() and not CommitmentReceipt.objects.exists()
    assert len(mails_to("ada@example.org", "pledge-failed")) == 1
    assert len(mails_to("bo@example.org", "pledge-failed")) == 1
    assert not mails_to("pending@example.org", "pledge-failed")
    assert Event.objects.filter(kind="pledge.failed", letter=letter).count() == 1
    fan_out()
    (told,) = mails_to(organizer.email, "pledge-decided")
    assert told.subject == "Pledge not met: I will move my projects elsewhere"
    assert "failed: 2 of 3 committed" in told.body_text and "Ada" not in told.body_text
    page = client.get("/p/leave/").content.decode()
    assert "Not met" in page and "Ada Secret" not in page and "<form" not in page.split("main")[1]
    response = commit(client, pledge, "new@example.org")
    assert response.status_code == 409 and b"failed" in response.content


def test_a_withdrawn_commitment_before_the_decision_lowers_the_count(client):
    pledge = make_pledge(threshold=3)
    committed(client, pledge, "ada@example.org", "bo@example.org")
    run_worker()
    assert Pledge.objects.get().commitment_count == 2
    receipt = link(mails_to("ada@example.org", "pledge-confirm")[0], "ps")
    assert (
        b"Withdraw my commitment" in client.post(f"/ps/{receipt}", {"action": "withdraw"}).content
    )
    response = client.post(f"/ps/{receipt}", {"action": "withdraw-confirmed"})
    assert b"withdrawn" in response.content
    run_worker()
    assert Pledge.objects.get().commitment_count == 1
    assert client.get(f"/ps/{receipt}").status_code == 404
    committed(client, pledge, "c@example.org", "d@example.org")
    run_worker()
    assert Pledge.objects.get().status == Pledge.Status.MET  # 3 now, not 4
    assert Pledge.objects.get().commitment_count == 3


def test_a_commitment_cannot_be_withdrawn_once_the_pledge_is_met(client):
    pledge = make_pledge(threshold=1)
    committed(client, pledge, "ada@example.org")
    run_worker()
    receipt = link(mails_to("ada@example.org", "pledge-confirm")[0], "ps")
    response = client.post(f"/ps/{receipt}", {"action": "withdraw-confirmed"})
    assert response.status_code == 409 and b"can no longer be withdrawn" in response.content
    assert Commitment.objects.count() == 1


def test_it_hides_whether_an_address_committed(client):
    pledge = make_pledge(threshold=10)
    committed(client, pledge, "known@example.org")

    def attempt(email):
        with CaptureQueriesContext(connection) as queries:
            page = commit(client, pledge, email)
        api = client.post(
            "/api/v1/pledges/leave/commitments",
            json.dumps(form(email)),
            content_type="application/json",
        )
        statements = [q["sql"].split(" VALUES ")[0].split(" WHERE ")[0] for q in queries]
        return page.status_code, page["Location"], api.status_code, api.content, statements

    commit(client, pledge, "waiting@example.org")  # and never confirmed
    known = attempt("known@example.org")
    assert known == attempt("unknown@example.org") == attempt("waiting@example.org")
    # The known address gets a mail that says so; the page and the API never do.
    assert len(mails_to("known@example.org", "pledge-already")) == 2
    assert len(mails_to("unknown@example.org", "pledge-confirm")) == 2


def test_a_repeat_before_confirming_replaces_the_waiting_details(client):
    pledge = make_pledge()
    commit(client, pledge, "ada@example.org", name="First Try")
    first = link(mails_to("ada@example.org", "pledge-confirm")[0], "pv")
    commit(client, pledge, "ada@example.org", name="Second Try")
    assert client.get(f"/pv/{first}").status_code == 404
    confirm(client, "ada@example.org")
    assert Commitment.objects.get().name == "Second Try"


def test_the_commitment_flow_end_to_end_over_smtp(client, smtp_server):
    pledge = make_pledge(threshold=1)
    assert commit(client, pledge, "ada@example.org").status_code == 302
    sending.send_batch()
    ((_, message),) = smtp_server.wait_for(1)
    assert message["To"] == "ada@example.org"
    body = smtp_server.text(message)
    token = body.split("/pv/", 1)[1].split()[0]
    assert b"Confirm" in client.get(f"/pv/{token}").content
    assert client.post(f"/pv/{token}").status_code == 200
    run_worker()
    sending.send_batch()
    _, met = smtp_server.wait_for(2)[1]
    assert met["Subject"].startswith("The pledge is live")
    assert "move my projects elsewhere" in smtp_server.text(met)


def test_a_hidden_name_is_sealed_and_never_shown(client, organizer):
    from undersigned.accounts.models import OrganizerKey
    from undersigned.lib import sealing

    private, public = sealing.generate_keypair()
    OrganizerKey.objects.register(organizer, public)
    letter = make_letter([organizer])
    pledge = make_pledge(threshold=1, letter=letter)
    committed(client, pledge, "ada@example.org", name="Hidden Ada", display="hidden")
    run_worker()
    commitment = Commitment.objects.get()
    assert commitment.name == "" and commitment.sealed is not None
    assert sealing.unseal(commitment.sealed, private)["name"] == "Hidden Ada"
    assert "Hidden Ada" not in client.get("/p/leave/").content.decode()


def test_the_announcement_goes_once_to_each_committer_and_to_later_ones(client, tmp_path):
    pledge = make_pledge(threshold=1)
    committed(client, pledge, "ada@example.org")
    run_worker()
    body = tmp_path / "news.txt"
    body.write_text("We moved. Here is how to follow.\n")
    call_command("pledge", "announce", "leave", "--subject", "We did it", "--body-file", str(body))
    with pytest.raises(CommandError, match="only one"):
        call_command("pledge", "announce", "leave", "--subject", "Again", "--body-file", str(body))
    run_worker()
    committed(client, pledge, "late@example.org")
    run_worker()
    for email in ("ada@example.org", "late@example.org"):
        (row,) = mails_to(email, "pledge-announce")
        assert row.subject == "We did it" and "We moved." in row.body_text
    # Told and announced: their addresses are gone, their hashes stay.
    assert all(c.email is None and c.email_hash for c in Commitment.objects.all())


def test_addresses_are_deleted_when_the_announcement_window_closes(client, settings):
    pledge = make_pledge(threshold=1)
    committed(client, pledge, "ada@example.org")
    run_worker()
    assert Commitment.objects.get().email == "ada@example.org"  # for the announcement
    with time_machine.travel(timezone.now() + timedelta(days=settings.PLEDGE_ANNOUNCE_DAYS + 1)):
        telling.tell()
        assert Commitment.objects.get().email is None
        pledge.refresh_from_db()
        with pytest.raises(services.PledgeError, match="deleted"):
            services.announce(pledge, "Late", "Too late.", via="command")


def test_verified_only_takes_only_addresses_at_its_domains(client):
    pledge = make_pledge(verified_only=True, domains=("example.com",))
    response = commit(client, pledge, "ada@elsewhere.org")
    assert response.status_code == 400 and b"example.com" in response.content
    assert not Commitment.objects.exists() and not OutgoingEmail.objects.exists()
    committed(client, pledge, "ada@example.com")
    run_worker()
    assert Pledge.objects.get().verified_count == 1
    assert Commitment.objects.get().verified_domain == "example.com"


def test_a_forge_proof_commits_without_an_address(client):
    pledge = make_pledge(threshold=1, verified_only=True)  # no domains: forge accounts only
    data = SignatureData(name="Octo Cat", email="", display="public")
    proof = services.ForgeProof("github", "OctoCat")
    receipt = services.commit_verified(pledge, data, proof)
    again = services.commit_verified(pledge, data, services.ForgeProof("github", "octocat"))
    assert Commitment.objects.count() == 1 and receipt != again
    run_worker()
    assert Pledge.objects.get().status == Pledge.Status.MET
    assert Pledge.objects.get().verified_count == 1
    assert "verified github account" in client.get("/p/leave/").content.decode()


def test_a_met_pledge_on_a_letter_is_on_its_timeline_and_feed(client, organizer, settings):
    letter = make_letter([organizer])
    pledge = make_pledge(threshold=1, letter=letter)
    committed(client, pledge, "ada@example.org")
    run_worker()
    entries = client.get(f"/api/v1/letters/{letter.slug}/events").json()["events"]
    assert [e["kind"] for e in entries[:2]] == ["pledge.met", "pledge.published"]
    assert entries[0]["pledge_url"].endswith("/p/leave/")
    fan_out()
    (told,) = mails_to(organizer.email, "pledge-decided")
    assert told.subject == "Pledge met: I will move my projects elsewhere"
    assert "was met: 1 person committed" in told.body_text
    feed = client.get(f"/l/{letter.slug}/feed.atom").content.decode()
    assert "Pledge met: 1 committed to move my projects elsewhere" in feed
    assert 'href="http://testserver/p/leave/">See the pledge' in client.get(
        f"/l/{letter.slug}/"
    ).content.decode().replace(settings.BASE_URL, "http://testserver")


def test_a_pledge_has_a_feed_of_its_own(client):
    pledge = make_pledge(threshold=1)
    assert (
        "Published: I will move my projects elsewhere"
        in client.get("/p/leave/feed.atom").content.decode()
    )
    committed(client, pledge, "ada@example.org")
    run_worker()
    feed = client.get("/p/leave/feed.atom")
    assert feed["Content-Type"].startswith("application/atom+xml")
    assert "Met: 1 committed" in feed.content.decode()
    assert client.get("/p/none/feed.atom").status_code == 404


def test_the_badge_shows_the_count_and_the_threshold(client):
    make_pledge(threshold=300)
    response = client.get("/p/leave/badge.svg")
    assert response["Content-Type"] == "image/svg+xml"
    assert "committed: 0 of 300" in response.content.decode()
    assert response["Access-Control-Allow-Origin"] == "*"


# --- bad input ------------------------------------------------------------------------------


def test_the_form_answers_bad_input_with_field_errors(client):
    make_pledge()
    response = client.post("/p/leave/", {"name": "", "email": "not an address", "display": "x"})
    page = response.content.decode()
    assert response.status_code == 400 and "Please correct the fields marked below." in page
    assert 'id="id_email_error"' in page and 'id="id_name_error"' in page
    assert not Commitment.objects.exists()
    assert client.get("/p/no-such/").status_code == 404
    assert client.post("/p/no-such/", form("a@example.org")).status_code == 404
    assert make_pledge(slug="draft", publish=False) and client.get("/p/draft/").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[]", "JSON object"),
        (json.dumps({**form("a@example.org"), "version": 2}).encode(), "Unknown fields"),
        (json.dumps({**form("a@example.org"), "name": 5}).encode(), "must be a string"),
        (json.dumps(form("not-an-address")).encode(), "need attention"),
        (json.dumps(form("a@example.org", display="threshold")).encode(), "need attention"),
    ],
)
def test_the_api_answers_bad_input_with_an_error(client, body, message):
    make_pledge()
    response = client.post(
        "/api/v1/pledges/leave/commitments", body, content_type="application/json"
    )
    assert response.status_code == 400 and message in response.json()["error"]
    assert not Commitment.objects.exists()


def test_the_api_answers_unknown_pledges_and_methods(client):
    assert client.get("/api/v1/pledges/none").status_code == 404
    assert "error" in client.get("/api/v1/pledges/none").json()
    make_pledge()
    assert client.get("/api/v1/pledges/leave/commitments").status_code == 405
    assert client.post("/api/v1/pledges/leave").status_code == 405
    response = client.post(
        "/api/v1/pledges/leave/commitments",
        json.dumps(form("a@example.org")),
        content_type="application/json",
    )
    assert response.status_code == 202 and response.json() == {"status": "pending_confirmation"}
    body = client.get("/api/v1/pledges/leave").json()
    assert set(body) >= {
        "slug",
        "action",
        "threshold",
        "deadline",
        "status",
        "commitment_count",
        "verified_count",
        "met_at",
    }


@pytest.mark.django_db(transaction=True)
def test_canary_a_committers_address_and_hidden_name_are_never_readable_in_a_dump(
    organizer, smtp_server, tmp_path
):
    from tests.test_privacy import database_dump
    from undersigned.accounts.models import OrganizerKey
    from undersigned.lib import sealing

    _, public = sealing.generate_keypair()
    OrganizerKey.objects.register(organizer, public)
    letter = make_letter([organizer])
    pledge = make_pledge(threshold=1, letter=letter)
    client = Client()
    email, name = "canary.pledge.q7@example.org", "Zebulon Pledgecanary"
    committed(client, pledge, email, name=name, display="hidden")
    # While the address is kept for the pledge's mails, it is only ciphertext.
    dump = database_dump()
    assert Commitment.objects.get().email == email
    assert email not in dump and "canary.pledge" not in dump and "Pledgecanary" not in dump
    run_worker()
    body = tmp_path / "b.txt"
    body.write_text("Live.")
    call_command("pledge", "announce", "leave", "--subject", "S", "--body-file", str(body))
    run_worker()
    while sending.send_batch():
        pass
    smtp_server.wait_for(3)  # the confirmation, "it is live", the announcement
    assert Commitment.objects.get().email is None
    dump = database_dump()
    assert "canary.pledge" not in dump and "Pledgecanary" not in dump


def test_the_private_links_are_not_cached_referred_or_logged(client):
    from undersigned.web.logging import redact

    pledge = make_pledge()
    commit(client, pledge, "ada@example.org")
    row = mails_to("ada@example.org", "pledge-confirm")[0]
    token, receipt = link(row, "pv"), link(row, "ps")
    for path in (f"/pv/{token}", f"/ps/{receipt}"):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
        assert response["Referrer-Policy"] == "no-referrer"
    for prefix in ("pv", "ps"):  # a short token too, which nothing else would catch
        assert redact(f"Method Not Allowed (PUT): /{prefix}/abcdef") == (
            f"Method Not Allowed (PUT): /{prefix}/[redacted]"
        )


# --- the workspace --------------------------------------------------------------------------


def test_organizers_create_and_announce_a_pledge_in_the_workspace(client, organizer):
    letter = make_letter([organizer])
    client.force_login(organizer)
    deadline = (timezone.now() + timedelta(days=20)).date().isoformat()
    page = client.get(f"/organize/{letter.slug}/pledges/")
    assert page.status_code == 200 and "No pledge yet." in page.content.decode()
    assert (
        'href="/organize/clean-air/pledges/"' in client.get("/organize/clean-air/").content.decode()
    )
    bad = client.post(f"/organize/{letter.slug}/pledges/", {"action": "", "threshold": "0"})
    assert bad.status_code == 400 and "Please correct the fields" in bad.content.decode()
    created = client.post(
        f"/organize/{letter.slug}/pledges/",
        {
            "slug": "leave",
            "action": "leave",
            "threshold": "1",
            "deadline": deadline,
            "publish": "on",
        },
    )
    assert created.status_code == 302
    pledge = Pledge.objects.get()
    assert pledge.letter == letter and pledge.is_published
    published = Event.objects.get(kind="pledge.published")
    assert (published.actor, published.via, published.letter) == (organizer, "web", letter)
    url = f"/organize/{letter.slug}/pledges/leave/announce/"
    early = client.post(url, {"subject": "S", "body": "B"})
    assert early.status_code == 400 and "Only a met pledge" in early.content.decode()
    committed(Client(), pledge, "ada@example.org")
    run_worker()
    empty = client.post(url, {"subject": "S", "body": " "})
    assert empty.status_code == 400 and not Pledge.objects.get().announced_at
    assert client.post(url, {"subject": "We did it", "body": "Thanks."}).status_code == 302
    run_worker()
    assert mails_to("ada@example.org", "pledge-announce")[0].subject == "We did it"
    assert "Announced on" in client.get(f"/organize/{letter.slug}/pledges/").content.decode()


# --- hostile input, generated (the helpers of tests/test_hostile.py) ------------------------


commitment_fields = st.fixed_dictionaries(
    {"name": text(), "email": any_email},
    optional={
        "affiliation": text(250),
        "department": text(120),
        "comment": text(1100),
        "display": st.one_of(st.sampled_from(["public", "hidden", "count", "threshold"]), text(20)),
        "public_after": st.one_of(
            st.sampled_from(["3", "50", "7", "-1", "1e9"]), text(12), st.integers(-10, 400)
        ),
        "website": st.sampled_from(["", "spam"]),
    },
)


@pytest.fixture
def pledges(db):
    make_pledge()
    make_pledge(slug="only-staff", verified_only=True, domains=("example.com",))
    make_pledge(slug="draft", publish=False)


def rows() -> tuple[int, int, int]:
    return (
        Commitment.objects.count(),
        CommitmentReceipt.objects.count(),
        OutgoingEmail.objects.count(),
    )


@HOSTILE
@given(
    slug=st.sampled_from(["leave", "leave", "only-staff", "draft", "none"]),
    fields=commitment_fields,
    api=st.booleans(),
)
def test_the_commitment_form_and_api_survive_any_fields(pledges, slug, fields, api):
    with rolled_back():
        before = rows()
        if api:
            response = hostile_client().post(
                f"/api/v1/pledges/{slug}/commitments",
                json.dumps({k: v for k, v in fields.items() if k != "website"}),
                content_type="application/json",
            )
        else:
            response = hostile_client().post(f"/p/{slug}/", fields)
        check_status(response, f"{slug} {fields!r}")
        commitments, receipts, mails = (a - b for a, b in zip(rows(), before, strict=True))
        if response.status_code in (202, 302):
            # At most one commitment, and never one without its mail (unless a honeypot).
            assert commitments <= 1 and receipts == mails <= 1
            assert mails == 1 or fields.get("website")
        else:
            assert (commitments, receipts, mails) == (0, 0, 0)


@HOSTILE
@given(
    path=st.sampled_from(
        [
            "/p/leave/",
            "/api/v1/pledges/leave/commitments",
            "/api/v1/pledges/leave",
            "/pv/x",
            "/ps/x",
        ]
    ),
    body=raw_body,
    kind=content_type,
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
)
def test_the_pledge_pages_survive_any_bytes(pledges, path, body, kind, method):
    with rolled_back():
        before = rows()
        response = hostile_client().generic(method, path, body, content_type=kind)
        check_status(response, f"{method} {path} {body[:100]!r}")
        if response.status_code not in (202, 302):
            assert rows() == before


def test_operators_see_pledges_but_no_commitment_in_the_admin(admin_client, client):
    pledge = make_pledge()
    committed(client, pledge, "ada@example.org", name="Ada Private")
    listing = admin_client.get("/admin/pledges/pledge/").content.decode()
    assert "move my projects elsewhere" in listing
    page = admin_client.get(f"/admin/pledges/pledge/{pledge.pk}/change/").content.decode()
    assert "Ada Private" not in page and "ada@example.org" not in page
    assert admin_client.get("/admin/pledges/commitment/").status_code == 404
    # What people committed to cannot be changed under them.
    assert 'name="threshold"' not in page and 'name="action"' not in page
    draft = make_pledge(slug="draft", publish=False)
    assert (
        'name="threshold"'
        in admin_client.get(f"/admin/pledges/pledge/{draft.pk}/change/").content.decode()
    )


def test_a_committer_hides_their_name_after_the_pledge_is_met_and_shows_it_again(client):
    pledge = make_pledge(threshold=1)
    committed(client, pledge, "ada@example.org", name="Ada Shown")
    run_worker()
    assert "Ada Shown" in client.get("/p/leave/").content.decode()
    receipt = link(mails_to("ada@example.org", "pledge-confirm")[0], "ps")
    hide = client.post(f"/ps/{receipt}", {"action": "display", "display": "hidden"})
    assert hide.status_code == 200 and b"Saved." in hide.content
    recent.clear()
    assert "Ada Shown" not in client.get("/p/leave/").content.decode()
    assert Commitment.objects.get().name == ""
    bad = client.post(f"/ps/{receipt}", {"action": "display", "display": "public", "name": " "})
    assert bad.status_code == 400 and b"Enter the name to show" in bad.content
    again = {"action": "display", "display": "public", "name": "Ada Again"}
    assert client.post(f"/ps/{receipt}", again).status_code == 200
    recent.clear()
    assert "Ada Again" in client.get("/p/leave/").content.decode()
    wrong = client.post(f"/ps/{receipt}", {"action": "display", "display": "threshold"})
    assert wrong.status_code == 400


def test_a_stranger_cannot_flood_an_inbox_through_a_pledge(client, settings):
    pledge = make_pledge()
    for _ in range(settings.MAILS_PER_ADDRESS_PER_HOUR + 3):
        assert commit(client, pledge, "target@example.org").status_code == 302
    assert len(mails_to("target@example.org")) == settings.MAILS_PER_ADDRESS_PER_HOUR


def test_a_commitment_and_a_decision_are_dated_to_the_hour(client):
    with time_machine.travel(timezone.now().replace(minute=37, second=12), tick=False):
        pledge = make_pledge(threshold=1)
        committed(client, pledge, "ada@example.org")
        run_worker()
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    commitment, pledge = Commitment.objects.get(), Pledge.objects.get()
    assert commitment.created_at == commitment.confirmed_at == pledge.met_at == hour
    assert pledge.counted_at == hour
    assert Commitment.new_expiry().minute == 0
