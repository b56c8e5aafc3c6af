"""The display choice `threshold` ("show my name once N have signed"): withheld and sealed
until the letter's count reaches N, then shown without the signer doing anything more; a copy
of the database taken before N holds no readable name (THREAT_MODEL.md, B)."""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from tests.conftest import drain, in_threads, last_token, make_letter, settle
from tests.test_browser import browser, new_context, site_url  # noqa: F401  (fixtures)
from tests.test_privacy import database_dump
from tests.test_remnants import files_of_the_database, read_database_files
from undersigned.accounts.models import OrganizerKey
from undersigned.db import maintenance
from undersigned.letters.models import Letter
from undersigned.lib import sealing, thresholds
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import counting, reveal, services
from undersigned.signatures.models import CountDelta, Signature, Tally

NAME = "Yolanda Thresholdcanary"
AFFILIATION = "Quorumfield Works"
COMMENT = "Once we are many, I stand by it."
CANARIES = (NAME, "Thresholdcanary", AFFILIATION, "Quorumfield", "we are many")
N = 50
_someone = itertools.count()


def sign_threshold(client, letter, email="yolanda@example.org", n=N, **extra):
    form = {
        "name": NAME,
        "email": email,
        "affiliation": AFFILIATION,
        "comment": COMMENT,
        "department": "Legal",
        "display": "threshold",
        "public_after": str(n),
        **extra,
    }
    response = client.post(f"/l/{letter.slug}/", form)
    settle()
    return response


def confirm_last(client) -> str:
    """Confirm the latest confirmation link; return the signature's private link."""
    assert client.post(f"/v/{last_token()}").status_code == 200
    body = OutgoingEmail.objects.filter(kind="confirm").latest("id").body_text
    return body.split("/s/")[1].split()[0]


def others_sign(letter, count: int, domain: str | None = None) -> list[str]:
    """``count`` other people sign publicly and confirm, each from an address of their own
    (at ``domain``, or at a domain of their own); their private links."""
    before = OutgoingEmail.objects.filter(kind="confirm").count()
    for _ in range(count):
        i = next(_someone)
        email = f"other{i}@{domain or f'd{i}.example'}"
        data = services.SignatureData(name=f"Other {i}", email=email)
        services.sign(letter, data)
    settle()
    rows = OutgoingEmail.objects.filter(kind="confirm").order_by("id")[before:]
    receipts = []
    for row in rows:
        token = row.body_text.split("/v/")[1].split()[0]
        services.confirm(token)
        receipts.append(row.body_text.split("/s/")[1].split()[0])
    return receipts


def public_names(client, letter) -> str:
    """The letter's page and every page of its public list in the API."""
    shown = [client.get(f"/l/{letter.slug}/").content.decode()]
    url = f"/api/v1/letters/{letter.slug}/signatures"
    cursor = ""
    while cursor is not None:
        answer = client.get(f"{url}?after={cursor}" if cursor else url).json()
        shown.append(json.dumps(answer["signatures"]))
        cursor = answer["next"]
    return "\n".join(shown)


def assert_nowhere_at_rest(canaries, name: str, table: str, marker: str) -> None:
    """None of ``canaries`` in a dump (which holds ``marker``: a real one), in any row, or in
    the database's files (SQLite's file and WAL, PostgreSQL's heap and WAL), and ``name`` not
    in ``table`` read raw as another program would, though a threshold row is there."""
    dump = database_dump()
    assert marker in dump  # a real dump
    stored = everything_stored()
    contents = read_database_files(files_of_the_database())
    assert contents
    for canary in canaries:
        assert canary not in dump, f"{canary!r} in the dump"
        assert canary not in stored, f"{canary!r} in a row"
        for path, data in contents:
            for encoded in (canary.encode(), canary.encode("utf-16-le")):
                assert encoded not in data, f"{canary!r} in {path}"
    if connection.vendor == "sqlite":
        with sqlite3.connect(connection.settings_dict["NAME"]) as raw:
            text = repr(raw.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
        assert name not in text and "threshold" in text


def everything_stored() -> str:
    """Every row of every table, as the ORM's connection reads it (no decryption)."""
    out = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = model._meta.db_table
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            out += [repr(row) for row in cursor.fetchall()]
    return "\n".join(out)


@pytest.fixture
def keyed(organizer):
    private, public = sealing.generate_keypair()
    OrganizerKey.objects.register(organizer, public)
    return private


# --- signing ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_threshold_signer_is_withheld_until_n_have_signed_then_shown(client, letter, keyed):
    assert sign_threshold(client, letter).status_code == 302
    confirm_page = client.get(f"/v/{last_token()}").content.decode()
    assert "until 50 people have signed" in confirm_page and NAME in confirm_page
    confirm_last(client)
    others_sign(letter, N - 2)
    drain()
    assert Letter.objects.get().signature_count == N - 1
    signature = Signature.objects.get(display="threshold")
    assert signature.public_after == N and signature.name == "" and signature.threshold_sealed
    shown = public_names(client, letter)
    assert NAME not in shown and "name withheld" in shown

    others_sign(letter, 1)  # the Nth
    drain()
    signature.refresh_from_db()
    assert (signature.display, signature.name, signature.affiliation, signature.comment) == (
        "public",
        NAME,
        AFFILIATION,
        COMMENT,
    )
    assert signature.threshold_sealed is None and signature.sealed is None
    assert signature.public_after == N  # so that the private page can say why
    shown = public_names(client, letter)
    assert NAME in shown and AFFILIATION in shown and COMMENT in shown
    api = client.get(f"/api/v1/letters/{letter.slug}/signatures").json()
    assert any(s["name"] == NAME for s in api["signatures"])
    # Nothing left to do, and the counts and tallies are what the signatures say.
    assert reveal.reveal_waiting() == 0
    assert counting.reconcile() == []
    assert not Tally.objects.filter(dimension="hidden-department", signatures__gt=0).exists()


@pytest.mark.django_db
def test_the_api_takes_a_threshold_signature(client, letter):
    body = {
        "name": NAME,
        "email": "yolanda@example.org",
        "display": "threshold",
        "public_after": 100,
    }
    response = client.post(
        f"/api/v1/letters/{letter.slug}/signatures", json.dumps(body), "application/json"
    )
    assert response.status_code == 202
    settle()
    signature = Signature.objects.get()
    assert (signature.display, signature.public_after, signature.name) == ("threshold", 100, "")
    assert reveal.opened(letter, signature)["name"] == NAME
    spec = client.get("/api/v1/openapi.json").json()
    schema = spec["components"]["schemas"]["SignatureInput"]["properties"]
    assert "threshold" in schema["display"]["enum"]
    assert schema["public_after"]["type"] == "integer"
    assert client.get(f"/api/v1/letters/{letter.slug}").json()["public_after_choices"] == [
        50,
        100,
        300,
    ]


@pytest.mark.django_db
def test_organizers_add_their_own_choices_of_n(client, organizer, tmp_path):
    body = tmp_path / "body.md"
    body.write_text("We ask.")
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--public-after"):
        call_command(
            "letter", "create", "few", "--title", "T", "--body-file", str(body),
            "--public-after", "ten",
        )  # fmt: skip
    call_command(
        "letter", "create", "few", "--title", "Few of us", "--body-file", str(body),
        "--publish", "--public-after", "3, 1000",
    )  # fmt: skip
    letter = Letter.objects.get(slug="few")
    assert letter.public_after_options() == [3, 50, 100, 300, 1000]
    page = client.get("/l/few/").content.decode()
    assert '<option value="3">3 signatures</option>' in page
    sign_threshold(client, letter, n=3)
    confirm_last(client)
    others_sign(letter, 2)
    drain()
    assert Signature.objects.get(public_after=3).display == "public"
    assert NAME in public_names(client, letter)
    # Another letter keeps the short list.
    other = make_letter([organizer], slug="many")
    refused = client.post(
        f"/api/v1/letters/{other.slug}/signatures",
        json.dumps({"name": "A", "email": "a@example.org", "display": "threshold",
                    "public_after": 3}),
        "application/json",
    )  # fmt: skip
    assert refused.status_code == 400
    assert "50, 100 or 300" in " ".join(refused.json()["fields"]["public_after"])


@pytest.mark.django_db
@pytest.mark.parametrize("value", [None, "", "-50", "50.5", "fifty", "49", "0", "1e2"])
def test_a_bad_or_missing_n_is_a_field_error_on_the_form(client, letter, value):
    form = {"name": "Ada", "email": "ada@example.org", "display": "threshold"}
    if value is not None:
        form["public_after"] = value
    response = client.post(f"/l/{letter.slug}/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "id_public_after_error" in page and "50, 100 or 300" in page
    settle()
    assert not Signature.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value, message",
    [
        (None, "Choose after how many"),
        (-50, "Choose one of"),
        (49, "Choose one of"),
        (50.5, "Must be a whole number."),
        ("50", "Must be a whole number."),
        (True, "Must be a whole number."),
        (10**30, "Choose one of"),
    ],
)
def test_a_bad_or_missing_n_is_an_error_in_the_api(client, letter, value, message):
    body = {"name": "Ada", "email": "ada@example.org", "display": "threshold"}
    if value is not None:
        body["public_after"] = value
    response = client.post(
        f"/api/v1/letters/{letter.slug}/signatures", json.dumps(body), "application/json"
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] and message in " ".join(answer["fields"]["public_after"])
    settle()
    assert not Signature.objects.exists()


@pytest.mark.django_db
def test_n_is_ignored_without_the_threshold_choice(client, letter):
    client.post(
        f"/l/{letter.slug}/",
        {"name": "Ada", "email": "ada@example.org", "display": "hidden", "public_after": "50"},
    )
    settle()
    signature = Signature.objects.get()
    assert (signature.display, signature.public_after, signature.threshold_sealed) == (
        "hidden",
        None,
        None,
    )


# --- what a copy of the database holds before N ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_before_n_no_dump_or_database_file_holds_a_readable_name(keyed, organizer, smtp_server):
    letter = make_letter([organizer], slug="quorum")
    client = Client()
    sign_threshold(client, letter, email="Yolanda.Q@Example.org")
    receipt = confirm_last(client)
    # She changes her mind about N (the old box becomes a dead row version).
    changed = client.post(
        f"/s/{receipt}", {"action": "display", "display": "threshold", "public_after": "100"}
    )
    assert changed.status_code == 200
    others_sign(letter, 3)
    drain()
    smtp_server.wait_for(4)  # mails sent and scrubbed
    maintenance.checkpoint()
    signature = Signature.objects.get(display="threshold")
    assert signature.public_after == 100 and NAME not in public_names(client, letter)

    assert_nowhere_at_rest(CANARIES, NAME, "signatures_signature", signature.email_hash)

    # Who can read it before N: an organizer's private key, and the holder of the secret.
    assert sealing.unseal(signature.sealed, keyed)["name"] == NAME
    opened = thresholds.unseal(reveal.scope(letter), 100, signature.threshold_sealed)
    assert opened == {"name": NAME, "affiliation": AFFILIATION, "comment": COMMENT}
    # Nobody else: not another N, letter, or secret.
    for scope, n, secret in (
        (reveal.scope(letter), 50, None),
        (f"letter:{letter.pk + 1}:{letter.key_salt}", 100, None),
        (reveal.scope(letter), 100, "another-secret-0123456789-0123456789"),
    ):
        with pytest.raises(thresholds.ThresholdError):
            thresholds.unseal(scope, n, signature.threshold_sealed, secret=secret)


@pytest.mark.django_db
def test_destroying_the_letters_key_makes_a_waiting_name_unreadable(client, letter):
    sign_threshold(client, letter)
    signature = Signature.objects.get()
    assert reveal.opened(letter, signature)["name"] == NAME
    from undersigned.letters import services as letter_services

    letter_services.destroy_key(letter)
    assert reveal.opened(letter, signature) is None
    with pytest.raises(thresholds.ThresholdError):
        reveal.scope(letter)


def test_threshold_keys_differ_by_scope_and_n_and_open_only_their_own():
    secret = "s-0123456789-0123456789-0123456789"
    keys = {
        thresholds.public_key(scope, n, secret)
        for scope in ("letter:1:aa", "letter:2:aa", "pledge:1:aa")
        for n in (50, 100)
    }
    assert len(keys) == 6
    box = thresholds.seal("letter:1:aa", 50, {"name": "A"}, secret)
    assert thresholds.unseal("letter:1:aa", 50, box, secret) == {"name": "A"}
    for bad in (0, -1, True, "50"):
        with pytest.raises(thresholds.ThresholdError):
            thresholds.private_key("letter:1:aa", bad, secret)  # type: ignore[arg-type]


# --- which count, and exactly once ----------------------------------------------------------


@pytest.mark.django_db
def test_a_letter_that_verifies_counts_only_verified_signatures_towards_n(client, organizer):
    letter = make_letter([organizer], slug="staff", organization="Company", domains="co.example")
    sign_threshold(client, letter, email="yolanda@co.example")
    confirm_last(client)
    others_sign(letter, N)  # unverified: not enough
    drain()
    assert Letter.objects.get(pk=letter.pk).signature_count == N + 1
    assert Signature.objects.get(email_hash__isnull=False, public_after=N).display == "threshold"
    others_sign(letter, N - 2, domain="co.example")  # N - 1 verified with her
    drain()
    assert Signature.objects.get(public_after=N).display == "threshold"
    others_sign(letter, 1, domain="co.example")
    drain()
    assert Letter.objects.get(pk=letter.pk).verified_count == N
    assert Signature.objects.get(public_after=N).display == "public"
    assert NAME in public_names(client, letter)


@pytest.mark.django_db
def test_a_count_that_falls_back_below_n_does_not_hide_the_name_again(client, letter):
    sign_threshold(client, letter)
    confirm_last(client)
    receipts = others_sign(letter, N - 1)
    drain()
    assert Signature.objects.get(public_after=N).display == "public"
    for receipt in receipts[:5]:
        assert services.withdraw(receipt)
    drain()
    assert Letter.objects.get().signature_count == N - 5
    assert Signature.objects.get(public_after=N).display == "public"
    assert NAME in public_names(client, letter)


@pytest.mark.django_db
def test_a_big_backlog_is_shown_in_bounded_batches(letter, monkeypatch):
    monkeypatch.setattr(reveal, "LIMIT", 7)
    for i in range(20):
        data = services.SignatureData(
            name=f"Waiting {i}", email=f"w{i}@d{i}.example", display="threshold", public_after=N
        )
        services.sign(letter, data)
    others_sign(letter, 0)
    settle()
    for row in OutgoingEmail.objects.filter(kind="confirm"):
        services.confirm(row.body_text.split("/v/")[1].split()[0])
    others_sign(letter, N - 20)
    batches = []
    while counting.apply_deltas():
        batches.append(Signature.objects.filter(display="public", public_after=N).count())
    assert batches[-1] == 20 and batches[:-1] != [] and 7 in batches
    assert counting.reconcile() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_show_each_name_exactly_once(organizer):
    letter = make_letter([organizer], slug="together")
    for i in range(30):
        data = services.SignatureData(
            name=f"Waiting {i}",
            email=f"w{i}@d{i}.example",
            department="Legal",
            display="threshold",
            public_after=N,
        )
        services.sign(letter, data)
    others_sign(letter, N - 30)
    settle()
    for row in OutgoingEmail.objects.filter(kind="confirm"):
        services.confirm(row.body_text.split("/v/")[1].split()[0])

    def work(_):
        done = 0
        for _round in range(20):
            done += counting.apply_deltas(batch=7) + reveal.reveal_waiting(limit=4)
        return done

    in_threads(work, [0, 1], threads=2, together=True)
    drain()
    assert not CountDelta.objects.exists()
    assert Signature.objects.filter(display="public", public_after=N).count() == 30
    assert Letter.objects.get(pk=letter.pk).signature_count == N
    legal = Tally.objects.filter(letter=letter, key="Legal")
    assert dict(legal.values_list("dimension", "signatures")) == {
        "department": 30,
        "hidden-department": 0,
    }
    assert counting.reconcile() == []


# --- the signer's private page --------------------------------------------------------------


@pytest.mark.django_db
def test_the_signer_changes_their_mind_or_withdraws_before_n(client, letter, keyed):
    sign_threshold(client, letter)
    receipt = confirm_last(client)
    drain()
    page = client.get(f"/s/{receipt}").content.decode()
    assert 'id="waiting"' in page and NAME in page and "50 people" in page

    # To hidden: no threshold box left; the organizers' stays.
    client.post(f"/s/{receipt}", {"action": "display", "display": "hidden"})
    signature = Signature.objects.get()
    assert (signature.display, signature.public_after, signature.threshold_sealed) == (
        "hidden",
        None,
        None,
    )
    assert sealing.unseal(signature.sealed, keyed)["name"] == NAME
    # Back to threshold: the server cannot read a hidden name, so it must be typed again.
    refused = client.post(
        f"/s/{receipt}", {"action": "display", "display": "threshold", "public_after": "50"}
    )
    assert refused.status_code == 400 and "Type the name" in refused.content.decode()
    bad = client.post(
        f"/s/{receipt}", {"action": "display", "display": "threshold", "public_after": "7"}
    )
    assert bad.status_code == 400 and "Choose one of" in bad.content.decode()
    client.post(
        f"/s/{receipt}",
        {"action": "display", "display": "threshold", "public_after": "50", "name": "Y. T."},
    )
    signature.refresh_from_db()
    assert signature.display == "threshold" and reveal.opened(letter, signature)["name"] == "Y. T."

    # Withdrawn before N: nothing to show, and the count is right.
    client.post(f"/s/{receipt}", {"action": "withdraw-confirmed"})
    others_sign(letter, N)
    drain()
    assert not Signature.objects.filter(public_after__isnull=False).exists()
    assert "Y. T." not in public_names(client, letter)
    assert counting.reconcile() == []


@pytest.mark.django_db
def test_choosing_threshold_after_the_count_passed_n_shows_the_name_soon(client, letter):
    others_sign(letter, N)
    sign_threshold(client, letter, display="hidden")
    receipt = confirm_last(client)
    drain()
    # From hidden, nothing moves in the tallies: no batch of the counter looks at the letter.
    changed = client.post(
        f"/s/{receipt}",
        {"action": "display", "display": "threshold", "public_after": "50", "name": NAME},
    )
    assert changed.status_code == 200
    drain()
    assert Signature.objects.get(display="threshold").public_after == N
    assert NAME not in public_names(client, letter)
    assert reveal.reveal_waiting() == 1  # the worker's sweep
    assert Signature.objects.filter(public_after=N).get().display == "public"
    drain()
    assert NAME in public_names(client, letter)
    assert counting.reconcile() == []


# --- in a browser, with JavaScript off ------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_a_signer_chooses_threshold_in_a_browser_without_javascript(
    request, smtp_server, worker_thread, organizer
):
    from playwright.sync_api import expect

    # The browser fixtures of test_browser.py (imported above), by name.
    base = request.getfixturevalue("site_url")
    contexts = request.getfixturevalue("new_context")

    from tests.test_browser import confirmation_link, reload_until_count, textbox

    letter = make_letter([organizer], slug="two-of-us", public_after_choices="2")
    page = contexts(java_script_enabled=False).new_page()
    url = base + letter.get_absolute_url()
    page.goto(url)
    textbox(page, "Name").fill(NAME)
    textbox(page, "Email").fill("yolanda@example.net")
    label = Signature.Display.THRESHOLD.label
    page.get_by_role("radio", name=label, exact=True).check()
    page.get_by_label("Show my name once this many have signed").select_option("2")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    page.goto(confirmation_link(smtp_server, 1, "yolanda@example.net"))
    expect(page.locator("#shown-as")).to_contain_text("until 2 people have signed")
    expect(page.locator("#shown-as")).to_contain_text(NAME)
    page.get_by_role("button", name="Confirm").click()
    reload_until_count(page, url, "1", forbidden=NAME)
    expect(page.locator("section.signatories")).to_contain_text("name withheld")

    services.sign(letter, services.SignatureData(name="Other", email="other@example.com"))
    link = confirmation_link(smtp_server, 2, "other@example.com")
    services.confirm(link.rsplit("/v/", 1)[1])
    reload_until_count(page, url, "2")
    deadline = 50
    while NAME not in page.content() and deadline:  # the counter's next batch, bounded
        page.wait_for_timeout(200)
        page.goto(url)
        deadline -= 1
    expect(page.locator("section.signatories")).to_contain_text(NAME)


@pytest.mark.django_db
def test_the_signing_verb_refuses_a_threshold_without_an_offered_n(letter):
    for n in (None, 7):
        data = services.SignatureData(
            name="A", email="a@example.org", display="threshold", public_after=n
        )
        with pytest.raises(services.SigningError, match="Choose after how many"):
            services.sign(letter, data)
    settle()
    assert not Signature.objects.exists()
