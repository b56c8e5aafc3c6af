"""Milestones: stamped once, by the counter, dated to the hour, even with two workers and a
count that jumps past several; never un-stamped; on the page, the API, the timeline and in
the organizers' mail."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.conftest import drain, settle
from undersigned.events.models import Event
from undersigned.letters.models import Letter, Milestone
from undersigned.lib.times import this_hour
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import counting
from undersigned.signatures.models import CountDelta


def confirm(letter, n: int) -> None:
    """What ``n`` confirmations leave in the journal for the counter."""
    CountDelta.objects.create(letter=letter, signatures=n)


@pytest.mark.django_db
def test_a_jump_past_two_thresholds_stamps_both_once(client, letter):
    confirm(letter, 350)
    counting.apply_deltas()
    assert list(Milestone.objects.values_list("count", flat=True)) == [100, 300]
    assert all(m.reached_at == this_hour() for m in Milestone.objects.all())
    confirm(letter, 5)
    counting.apply_deltas()
    assert Milestone.objects.count() == 2
    events = Event.objects.filter(kind="letter.milestone")
    assert sorted(e.data["count"] for e in events) == [100, 300]
    assert all(e.at == this_hour() for e in events)


@pytest.mark.django_db
def test_a_withdrawal_below_a_milestone_does_not_unstamp_it_nor_stamp_it_again(letter):
    confirm(letter, 101)
    counting.apply_deltas()
    confirm(letter, -2)
    counting.apply_deltas()
    confirm(letter, 3)
    counting.apply_deltas()
    assert list(Milestone.objects.values_list("count", flat=True)) == [100]
    assert Event.objects.filter(kind="letter.milestone").count() == 1


@pytest.mark.django_db
def test_organizers_add_milestones_of_their_own(client, organizer):
    from tests.conftest import make_letter

    letter = make_letter([organizer], slug="own", extra_milestones="50, 150")
    confirm(letter, 160)
    counting.apply_deltas()
    assert list(Milestone.objects.values_list("count", flat=True)) == [50, 100, 150]
    from django.core.exceptions import ValidationError

    from undersigned.letters.models.letter import validate_milestones

    for bad in ("ten", "-5", "0"):
        with pytest.raises(ValidationError, match="whole numbers"):
            validate_milestones(bad)


@pytest.mark.django_db
def test_milestones_are_in_the_api_on_the_timeline_and_mailed_to_organizers(client, letter):
    confirm(letter, 120)
    drain()
    settle()  # the fan-out of the counter's event, as the worker's next round does
    data = client.get(f"/api/v1/letters/{letter.slug}").json()
    assert data["milestones"] == [{"count": 100, "reached_at": this_hour().isoformat()}]
    events = client.get(f"/api/v1/letters/{letter.slug}/events").json()["events"]
    assert any(e["kind"] == "letter.milestone" and "100 signatures" in e["text"] for e in events)
    assert "100 signatures" in client.get(f"/l/{letter.slug}/").content.decode()
    assert "100 signatures" in client.get(f"/l/{letter.slug}/feed.atom").content.decode()
    mails = OutgoingEmail.objects.filter(kind="milestone")
    assert {m.to for m in mails} == {"olivia@example.org", "carlos@example.org"}
    assert "passed 100" in mails[0].subject


@pytest.mark.django_db(transaction=True)
def test_two_workers_stamp_each_milestone_once(letter):
    if connection.vendor != "postgresql":
        pytest.skip("two workers need two connections that really run at once: PostgreSQL")
    for _ in range(40):
        confirm(letter, 10)
    barrier = threading.Barrier(2)

    def work():
        try:
            barrier.wait(timeout=10)
            for _ in range(30):
                counting.apply_deltas(batch=3)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Letter.objects.get(pk=letter.pk).signature_count == 400
    assert list(Milestone.objects.values_list("count", flat=True)) == [100, 300]
    assert Event.objects.filter(kind="letter.milestone").count() == 2
