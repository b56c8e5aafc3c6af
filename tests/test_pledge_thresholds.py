"""The commitment display choice `threshold` ("show my name once the pledge is met and N have
committed"): sealed until then, shown without the committer doing anything more, exactly once
however many workers run; a copy of the database taken before N holds no readable name
(THREAT_MODEL.md, M)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.conftest import in_threads, mails_to, make_letter
from tests.test_pledges import commit, committed, confirm, link, make_pledge, run_worker
from tests.test_thresholds import assert_nowhere_at_rest
from undersigned.accounts.models import OrganizerKey
from undersigned.db import maintenance
from undersigned.lib import sealing, thresholds
from undersigned.pledges import deciding, services, waiting
from undersigned.pledges.models import Commitment, Pledge
from undersigned.signatures.services import SignatureData
from undersigned.web.caching import recent

NAME = "Ulrika Pledgequorum"
AFFILIATION = "Waitfield Mills"
COMMENT = "When we are enough, count me in by name."
CANARIES = (NAME, "Pledgequorum", AFFILIATION, "Waitfield", "count me in by name")


def waiting_form(n, **more) -> dict:
    return {
        "name": NAME,
        "affiliation": AFFILIATION,
        "comment": COMMENT,
        "department": "Mills",
        "display": "threshold",
        "public_after": str(n),
        **more,
    }


def page(client, pledge) -> str:
    recent.clear()  # as this process's second-long copies of pages would expire
    return client.get(pledge.get_absolute_url()).content.decode()


@pytest.fixture
def keyed(organizer):
    private, public = sealing.generate_keypair()
    OrganizerKey.objects.register(organizer, public)
    return private


@pytest.mark.django_db
def test_a_threshold_committer_is_named_once_met_and_n_have_committed(client, organizer, keyed):
    # N = 3 is the letter's own choice; the pledge is met at 2.
    letter = make_letter([organizer], public_after_choices="3")
    pledge = make_pledge(threshold=2, letter=letter)
    response = client.post("/p/leave/", {"email": "ulrika@example.org", **waiting_form(3)})
    assert response.status_code == 302
    token = link(mails_to("ulrika@example.org", "pledge-confirm")[0], "pv")
    shown_as = client.get(f"/pv/{token}").content.decode()
    assert "until the pledge is met and 3 people have committed" in shown_as and NAME in shown_as
    confirm(client, "ulrika@example.org")
    commitment = Commitment.objects.get()
    assert (commitment.display, commitment.public_after, commitment.name) == ("threshold", 3, "")
    assert commitment.department == "" and commitment.threshold_sealed
    # The organizers' key opens it before N.
    assert sealing.unseal(commitment.sealed, keyed)["name"] == NAME

    committed(client, pledge, "bo@example.org", name="Bo Public")
    run_worker()
    assert Pledge.objects.get().status == Pledge.Status.MET
    shown = page(client, pledge)
    assert "Bo Public" in shown and NAME not in shown  # met, but only 2 of 3
    assert Commitment.objects.get(pk=commitment.pk).display == "threshold"

    committed(client, pledge, "cy@example.org", name="Cy Public")
    assert deciding.decide() == 2  # the count moves and her name appears, in one round
    commitment.refresh_from_db()
    assert (commitment.display, commitment.name, commitment.affiliation) == (
        "public",
        NAME,
        AFFILIATION,
    )
    assert (commitment.comment, commitment.department) == (COMMENT, "Mills")
    assert commitment.sealed is None and commitment.threshold_sealed is None
    assert commitment.public_after == 3  # so that her private page can say why
    shown = page(client, pledge)
    assert NAME in shown and AFFILIATION in shown and COMMENT in shown
    api = client.get("/api/v1/pledges/leave").json()
    assert api["status"] == "met" and api["commitment_count"] == 3
    assert deciding.decide() == 0  # nothing left to do
    receipt = link(mails_to("ulrika@example.org", "pledge-confirm")[0], "ps")
    assert "was shown when 3 people had committed" in client.get(f"/ps/{receipt}").content.decode()


@pytest.mark.django_db
def test_the_api_takes_a_threshold_commitment_with_the_pledges_own_n(client):
    pledge = make_pledge(threshold=7)
    body = {"name": NAME, "email": "ulrika@example.org", "display": "threshold", "public_after": 7}
    response = client.post(
        "/api/v1/pledges/leave/commitments", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 202
    commitment = Commitment.objects.get()
    assert (commitment.display, commitment.public_after, commitment.name) == ("threshold", 7, "")
    assert waiting.opened(commitment)["name"] == NAME
    assert '<option value="7">7 commitments</option>' in page(client, pledge)
    spec = client.get("/api/v1/openapi.json").json()
    schema = spec["components"]["schemas"]["CommitmentInput"]["properties"]
    assert "threshold" in schema["display"]["enum"]
    assert schema["public_after"]["type"] == "integer"


@pytest.mark.django_db
@pytest.mark.parametrize("value", [None, "", "-50", "50.5", "fifty", "49", "0", "1e2"])
def test_a_bad_or_missing_n_is_a_field_error_on_the_form(client, value):
    make_pledge(threshold=3)
    fields = {"name": "Ada", "email": "ada@example.org", "display": "threshold"}
    if value is not None:
        fields["public_after"] = value
    response = client.post("/p/leave/", fields)
    assert response.status_code == 400
    answer = response.content.decode()
    assert "id_public_after_error" in answer and "3, 50, 100 or 300" in answer
    assert not Commitment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "Choose after how many commitments"),
        (-50, "Choose one of"),
        (49, "Choose one of"),
        (10**30, "Choose one of"),
        (50.5, "Must be a whole number."),
        ("50", "Must be a whole number."),
        (True, "Must be a whole number."),
    ],
)
def test_a_bad_or_missing_n_is_an_error_in_the_api(client, value, message):
    make_pledge(threshold=3)
    body = {"name": "Ada", "email": "ada@example.org", "display": "threshold"}
    if value is not None:
        body["public_after"] = value
    response = client.post(
        "/api/v1/pledges/leave/commitments", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] and message in " ".join(answer["fields"]["public_after"])
    assert not Commitment.objects.exists()


@pytest.mark.django_db
def test_the_verbs_refuse_an_n_the_pledge_does_not_offer():
    pledge = make_pledge(threshold=3)
    for n in (None, 7):
        data = SignatureData(name="A", email="a@example.org", display="threshold", public_after=n)
        with pytest.raises(services.PledgeError, match="Choose after how many"):
            services.commit(pledge, data)
        with pytest.raises(services.PledgeError, match="Choose after how many"):
            services.commit_verified(pledge, data, services.ForgeProof("github", "a"))
    assert not Commitment.objects.exists()


@pytest.mark.django_db
def test_n_is_ignored_without_the_threshold_choice(client):
    pledge = make_pledge()
    commit(client, pledge, "ada@example.org", display="hidden", public_after="50")
    commitment = Commitment.objects.get()
    assert (commitment.display, commitment.public_after, commitment.threshold_sealed) == (
        "hidden",
        None,
        None,
    )


# --- what a copy of the database holds before N ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_before_n_no_dump_or_database_file_holds_a_readable_name(organizer, keyed):
    letter = make_letter([organizer], slug="quorum")
    pledge = make_pledge(threshold=1, letter=letter)
    client = Client()
    commit(client, pledge, "Ulrika.Q@Example.org", **waiting_form(50))
    confirm(client, "Ulrika.Q@Example.org")
    run_worker()  # met at 1; she waits for 50
    receipt = link(mails_to("Ulrika.Q@Example.org", "pledge-confirm")[0], "ps")
    # She changes her mind about N (the old box becomes a dead row version).
    changed = client.post(
        f"/ps/{receipt}", {"action": "display", "display": "threshold", "public_after": "100"}
    )
    assert changed.status_code == 200 and b"Saved." in changed.content
    run_worker()
    maintenance.checkpoint()
    commitment = Commitment.objects.get()
    assert (commitment.display, commitment.public_after) == ("threshold", 100)
    assert Pledge.objects.get().status == Pledge.Status.MET and NAME not in page(client, pledge)

    assert_nowhere_at_rest(CANARIES, NAME, "pledges_commitment", commitment.email_hash)

    # Who can read it before N: an organizer's private key, and the holder of the secret.
    assert sealing.unseal(commitment.sealed, keyed)["name"] == NAME
    opened = thresholds.unseal(waiting.scope(pledge), 100, commitment.threshold_sealed)
    assert opened == {
        "name": NAME,
        "affiliation": AFFILIATION,
        "department": "Mills",
        "comment": COMMENT,
    }
    # Nobody else: not another N, pledge, or secret.
    for scope, n, secret in (
        (waiting.scope(pledge), 50, None),
        (f"pledge:{pledge.pk + 1}:{pledge.key_salt}", 100, None),
        (f"letter:{letter.pk}:{letter.key_salt}", 100, None),
        (waiting.scope(pledge), 100, "another-secret-0123456789-0123456789"),
    ):
        with pytest.raises(thresholds.ThresholdError):
            thresholds.unseal(scope, n, commitment.threshold_sealed, secret=secret)


# --- exactly once, in bounded rounds ----------------------------------------------------------


def waiting_committers(pledge, count: int, n: int) -> None:
    for i in range(count):
        data = SignatureData(
            name=f"Waiting {i}", email=f"w{i}@example.org", display="threshold", public_after=n
        )
        services.commit(pledge, data)
        services.confirm(link(mails_to(f"w{i}@example.org", "pledge-confirm")[0], "pv"))


@pytest.mark.django_db
def test_a_big_backlog_is_shown_in_bounded_rounds(monkeypatch):
    monkeypatch.setattr(waiting, "LIMIT", 4)
    pledge = make_pledge(threshold=10)
    waiting_committers(pledge, 10, 10)
    rounds = []
    while done := deciding.decide():
        rounds.append((done, Commitment.objects.filter(display="public").count()))
    assert rounds == [(1 + 4, 4), (4, 8), (2, 10)]  # met, then the names, four a round


@pytest.mark.django_db(transaction=True)
def test_two_workers_show_each_name_exactly_once(monkeypatch):
    monkeypatch.setattr(waiting, "LIMIT", 3)
    pledge = make_pledge(threshold=12)
    waiting_committers(pledge, 12, 12)

    def work(_):
        return sum(deciding.decide() for _round in range(8))

    done = in_threads(work, [0, 1], threads=2, together=True)
    # One decision and twelve names in all, between them: none twice.
    assert sum(done) == 1 + 12
    assert Commitment.objects.filter(display="public", public_after=12).count() == 12
    assert not Commitment.objects.filter(threshold_sealed__isnull=False).exists()
    shown = page(Client(), pledge)
    assert all(shown.count(f"Waiting {i}</strong>") == 1 for i in range(12))


# --- the committer's private page, and failure ----------------------------------------------


@pytest.mark.django_db
def test_the_committer_chooses_threshold_on_their_private_page(client, organizer, keyed):
    letter = make_letter([organizer])
    pledge = make_pledge(threshold=1, letter=letter)
    committed(client, pledge, "ada@example.org", name=NAME, display="hidden")
    run_worker()
    receipt = link(mails_to("ada@example.org", "pledge-confirm")[0], "ps")
    url = f"/ps/{receipt}"
    assert 'name="public_after"' in client.get(url).content.decode()
    # From hidden, the server cannot read the name: it must be typed again.
    refused = client.post(url, {"action": "display", "display": "threshold", "public_after": "1"})
    assert refused.status_code == 400 and "Type the name" in refused.content.decode()
    bad = client.post(url, {"action": "display", "display": "threshold", "public_after": "7"})
    assert bad.status_code == 400 and "Choose one of 1, 50, 100 or 300" in bad.content.decode()
    assert Commitment.objects.get().display == "hidden"
    typed = {"action": "display", "display": "threshold", "public_after": "1", "name": "A. T."}
    assert client.post(url, typed).status_code == 200
    commitment = Commitment.objects.get()
    assert commitment.display == "threshold" and waiting.opened(commitment)["name"] == "A. T."
    assert 'id="waiting"' in client.get(url).content.decode()
    # The pledge is met and 1 committed already: the next round shows it.
    assert deciding.decide() == 1
    assert "A. T." in page(client, pledge)
    # And back to hidden: sealed to the organizers only.
    client.post(url, {"action": "display", "display": "hidden"})
    commitment.refresh_from_db()
    assert (commitment.display, commitment.threshold_sealed) == ("hidden", None)
    assert commitment.name == ""
    assert sealing.unseal(commitment.sealed, keyed)["name"] == "A. T."
    assert "A. T." not in page(client, pledge)


@pytest.mark.django_db
def test_a_failed_pledge_deletes_its_waiting_commitments(client):
    pledge = make_pledge(threshold=3, days=1)
    committed(client, pledge, "ada@example.org", **waiting_form(3))
    run_worker()
    assert Commitment.objects.get().threshold_sealed
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        run_worker()
    assert Pledge.objects.get().status == Pledge.Status.FAILED
    assert not Commitment.objects.exists()
