"""The batched counter and the reconcile command keep counts exact."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.conftest import confirmation_token, drain, make_letter, settle
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.moderation import services as moderation
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import counting, services
from undersigned.signatures.models import CountDelta, Signature

pytestmark = pytest.mark.django_db


def confirmed(letter, n, start=0):
    Signature.objects.bulk_create(
        Signature(
            letter=letter, name=f"S{i}", email_hash=f"{i:064x}", status=Signature.Status.CONFIRMED
        )
        for i in range(start, start + n)
    )


def test_the_counter_folds_the_journal_into_each_letter(letter, organizer):
    other = make_letter([organizer], slug="other")
    CountDelta.objects.bulk_create(
        [CountDelta(letter=letter, signatures=1)] * 3 + [CountDelta(letter=other, signatures=1)]
    )
    assert counting.apply_deltas() == 4
    assert counting.apply_deltas() == 0
    assert Letter.objects.get(pk=letter.pk).signature_count == 3
    assert Letter.objects.get(pk=other.pk).signature_count == 1
    assert not CountDelta.objects.exists()


def test_the_counter_works_in_batches(letter):
    CountDelta.objects.bulk_create([CountDelta(letter=letter, signatures=1)] * 7)
    assert counting.apply_deltas(batch=5) == 5
    assert Letter.objects.get(pk=letter.pk).signature_count == 5
    assert counting.apply_deltas(batch=5) == 2
    assert Letter.objects.get(pk=letter.pk).signature_count == 7


def test_reconcile_recomputes_a_wrong_count(letter, capsys):
    confirmed(letter, 5)
    Signature.objects.create(letter=letter, name="P", email_hash="f" * 64)  # pending
    Letter.objects.filter(pk=letter.pk).update(signature_count=999)
    call_command("reconcile")
    assert Letter.objects.get(pk=letter.pk).signature_count == 5
    out = capsys.readouterr().out
    assert "clean-air: 999 -> 5" in out and "1 count corrected" in out


def test_reconcile_leaves_unapplied_journal_rows_to_the_counter(letter):
    confirmed(letter, 4)
    Letter.objects.filter(pk=letter.pk).update(signature_count=3)
    CountDelta.objects.create(letter=letter, signatures=1)  # the 4th, not yet counted
    counting.reconcile()
    assert Letter.objects.get(pk=letter.pk).signature_count == 3
    counting.apply_deltas()
    assert Letter.objects.get(pk=letter.pk).signature_count == 4


def test_reconcile_says_when_nothing_was_wrong(letter, capsys):
    call_command("reconcile")
    assert "0 counts corrected" in capsys.readouterr().out


def test_reconcile_recomputes_the_verified_count(letter, capsys):
    confirmed(letter, 3)
    Signature.objects.filter(email_hash__in=[f"{i:064x}" for i in range(2)]).update(
        verified_domain="example.com"
    )
    call_command("reconcile")
    letter.refresh_from_db()
    assert (letter.signature_count, letter.verified_count) == (3, 2)
    assert "0 -> 2 verified" in capsys.readouterr().out


def test_confirming_journals_each_counted_signature_once_in_the_same_statement(letter):
    """The journal row comes from the database's trigger: one per counted signature that
    turns confirmed, marked verified when it is; none for a flagged one or a second click."""
    from datetime import timedelta

    from django.utils import timezone

    from undersigned.lib.tokens import token_hash
    from undersigned.signatures import services

    expires = timezone.now() + timedelta(days=1)
    for i, (flag, domain) in enumerate([("", ""), ("", "example.org"), ("rate-client", "")]):
        Signature.objects.create(
            letter=letter,
            email_hash=f"{i:064x}",
            token_hash=token_hash(f"token-{i}").hex(),
            token_expires_at=expires,
            flag=flag,
            verified_domain=domain,
        )
    for i in (0, 1, 2, 0):  # the last: a second click
        assert services.confirm(f"token-{i}").letter_id == letter.pk
    fields = ("letter_id", "signatures", "verified", "held", "flag")
    journal = sorted(CountDelta.objects.values_list(*fields))
    assert journal == [
        (letter.pk, 0, 0, 1, "rate-client"),  # held, not lost
        (letter.pk, 1, 0, 0, ""),
        (letter.pk, 1, 1, 0, ""),
    ]
    counting.apply_deltas()
    letter.refresh_from_db()
    assert (letter.signature_count, letter.verified_count) == (2, 1)
    assert counting.reconcile() == []


# --- what counts, stated once (signatures.models.COUNTED) -----------------------------------


def _sign(letter, email="ada@example.org", honeypot=False):
    services.sign(letter, services.SignatureData(name="Ada", email=email), honeypot=honeypot)
    settle()
    mail = OutgoingEmail.objects.filter(kind="confirm").latest("id").body_text
    return confirmation_token(mail), mail.rsplit("/s/", 1)[1].split()[0]


def pending(letter):
    _sign(letter)


def confirmed_(letter):
    services.confirm(_sign(letter)[0])


def flagged(letter):  # held by an abuse check (here: the honeypot)
    services.confirm(_sign(letter, honeypot=True)[0])


def invalidated(letter):
    services.confirm(_sign(letter, "ada@sock.example")[0])
    moderation.invalidate(letter, moderation.Criteria(domain="sock.example"), "R.", via="command")


def withdrawn(letter):
    token, receipt = _sign(letter)
    services.confirm(token)
    drain()
    services.withdraw(receipt)


def confirmed_then_closed(letter):
    services.confirm(_sign(letter)[0])
    letter_services.close(letter, via="command")


def pending_when_closed(letter):
    token, _ = _sign(letter)
    letter_services.close(letter, via="command")
    with pytest.raises(services.SigningError):
        services.confirm(token)


@pytest.mark.parametrize(
    ("reason", "counts"),
    [
        (pending, False),
        (confirmed_, True),
        (flagged, False),
        (invalidated, False),
        (withdrawn, False),
        (confirmed_then_closed, True),
        (pending_when_closed, False),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_the_trigger_the_queryset_the_model_and_reconcile_agree_on_what_counts(
    letter, reason, counts
):
    reason(letter)
    drain()  # the trigger's (and the verbs') journal rows, folded into the count
    by_trigger = Letter.objects.get(pk=letter.pk).signature_count
    by_queryset = Signature.objects.counted().filter(letter=letter).count()
    by_model = sum(s.is_counted for s in Signature.objects.filter(letter=letter))
    assert by_trigger == by_queryset == by_model == int(counts)
    assert counting.reconcile() == []  # nothing to correct
    assert Letter.objects.get(pk=letter.pk).signature_count == int(counts)


@pytest.mark.django_db
def test_the_trigger_that_journals_confirmations_survives_the_migrations():
    """SQLite drops a table's triggers when a migration rebuilds the table."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                ["signature_confirmed_counted"],
            )
        else:
            cursor.execute(
                "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = %s",
                ["signature_confirmed_counted"],
            )
        assert cursor.fetchall() == [("signatures_signature",)]
