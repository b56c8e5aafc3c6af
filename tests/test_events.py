"""The event record: every organizer and operator act leaves one event (whatever the way in:
organizer pages, the admin, the command line); the registry lets no kind hold a signer's
identity; worker events are dated to the hour; the fan-out mails each event exactly once."""

from __future__ import annotations

import io
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.template.loader import get_template
from django.utils import timezone

from tests.conftest import in_threads, make_letter, settle
from undersigned import events
from undersigned.accounts.models import OrganizerKey
from undersigned.events.fanout import CONTEXT, RECIPIENTS, fan_out
from undersigned.events.kinds import KINDS, FanOut
from undersigned.events.models import Audience, Event
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.moderation import services as moderation
from undersigned.moderation.models import Policy
from undersigned.outbox.models import OutgoingEmail

pytestmark = pytest.mark.django_db

# Data keys that would name, reach or date a signer.
SIGNER_IDENTITY = {
    "email",
    "address",
    "to",
    "name",
    "affiliation",
    "comment",
    "department",
    "ip",
    "ip_hash",
    "client",
    "key",  # a trend's key is an email domain or a client-address hash
    "email_hash",
    "email_domain",
    "token",
    "receipt",
    "signature",
    "signatures",
    "created_at",
    "confirmed_at",
    "time",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_kind_may_hold_a_signers_identity(kind):
    spec = KINDS[kind]
    assert not spec.keys & SIGNER_IDENTITY, f"{kind} may hold {spec.keys & SIGNER_IDENTITY}"
    assert spec.name == kind and spec.audience in Audience.values
    assert spec.describe({}) and "{" not in spec.describe({key: "x" for key in spec.keys})
    if spec.fan_out != FanOut.NONE:
        assert spec.fan_out in RECIPIENTS or spec.fan_out == FanOut.SUBSCRIBERS, kind
        assert spec.mail in CONTEXT, kind
        for part in ("subject.txt", "body.txt", "body.html"):
            get_template(f"emails/{spec.mail}-{part}")


def test_the_worker_may_record_only_kinds_dated_to_the_hour(letter):
    exact = [name for name, spec in KINDS.items() if spec.exact_time]
    with pytest.raises(ValueError, match="dated to the hour"):
        events.record(exact[0], letter=letter, via="worker")
    with time_machine.travel("2026-06-22 13:42:37.715+00:00", tick=False):
        event = events.record(
            "trend.alert",
            letter=letter,
            via="worker",
            trend=1,
            field="email_domain",
            count=3,
            threshold=2,
            hour="2026-06-22T13:00:00+00:00",
        )
        acted = events.record("letter.paused", letter=letter, via="admin", message="m")
    assert event.at.isoformat() == "2026-06-22T13:00:00+00:00"
    assert acted.at.isoformat() == "2026-06-22T13:42:37.715000+00:00"  # a person's own act


def test_an_event_holds_only_what_its_kind_allows_and_only_inside_a_transaction(letter):
    with pytest.raises(ValueError, match="may not hold"):
        events.record("letter.published", letter=letter, via="web", email="a@example.org")
    with pytest.raises(KeyError):
        events.record("letter.unheard-of", letter=letter, via="web")
    with pytest.raises(ValueError, match="via"):
        events.record("letter.published", letter=letter, via="carrier pigeon")


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_the_transaction_of_its_act_is_refused(organizer):
    letter = make_letter([organizer])
    with pytest.raises(RuntimeError, match="inside the transaction"):
        events.record("letter.published", letter=letter, via="web")
    with transaction.atomic():
        events.record("letter.published", letter=letter, via="web")


# --- every act, every way in ----------------------------------------------------------------


def kinds_since(start: int) -> list[str]:
    return list(Event.objects.filter(pk__gt=start).order_by("id").values_list("kind", flat=True))


def last_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def admin_action(client, action: str, letter: Letter):
    return client.post(
        "/admin/letters/letter/", {"action": action, "_selected_action": [letter.pk]}
    )


LETTER_FORM = {
    "title": "Fix the bridge",
    "slug": "fix-the-bridge",
    "addressed_to": "The council",
    "body": "Please fix it.",
    "visibility": "public",
    "purge_after_days": "30",
}


def organizer_creates(organizer, client, letter):
    client.force_login(organizer)
    assert client.post("/organize/new/", LETTER_FORM).status_code == 302


def organizer_edits(organizer, client, letter):
    client.force_login(organizer)
    form = {**LETTER_FORM, "slug": letter.slug, "title": "A new title"}
    assert client.post(f"/organize/{letter.slug}/", form).status_code == 302


def organizer_publishes(organizer, client, letter):
    client.force_login(organizer)
    assert client.post(f"/organize/{letter.slug}/publish/").status_code == 302


def organizer_closes(organizer, client, letter):
    client.force_login(organizer)
    assert client.post(f"/organize/{letter.slug}/close/", {"confirm": "yes"}).status_code == 302


def organizer_reopens(organizer, client, letter):
    client.force_login(organizer)
    assert client.post(f"/organize/{letter.slug}/reopen/").status_code == 302


def organizer_exports(organizer, client, letter):
    client.force_login(organizer)
    assert client.get(f"/organize/{letter.slug}/export.csv").status_code == 200


def organizer_adds_a_key(organizer, client, letter):
    client.force_login(organizer)
    public = sealing.generate_keypair()[1]
    assert client.post("/organize/keys/", {"public_key": public}).status_code == 302


def organizers_inline(*rows) -> dict:
    """The admin's inline formsets of a letter, as a browser posts them: its organizers, with
    ``rows`` (user, role), and its versions (shown, never changed)."""
    form = {
        "organizer_set-TOTAL_FORMS": str(len(rows)),
        "organizer_set-INITIAL_FORMS": "0",
        "organizer_set-MIN_NUM_FORMS": "0",
        "organizer_set-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    for i, (user, role) in enumerate(rows):
        form[f"organizer_set-{i}-user"] = str(user.pk)
        form[f"organizer_set-{i}-role"] = role
    return form


def operator_adds(operator, client, letter):
    client.force_login(operator)
    form = {**LETTER_FORM, **organizers_inline((letter.organizers.first(), "owner"))}
    response = client.post("/admin/letters/letter/add/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]


def operator_changes(operator, client, letter):
    client.force_login(operator)
    form = {**LETTER_FORM, "slug": letter.slug, "pause_message": "Back soon."}
    form.update(organizers_inline())
    response = client.post(f"/admin/letters/letter/{letter.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]


def operator_deletes(operator, client, letter):
    client.force_login(operator)
    url = f"/admin/letters/letter/{letter.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Letter.objects.filter(pk=letter.pk).exists()


def operator_acts(action: str):
    def act(operator, client, letter):
        client.force_login(operator)
        assert admin_action(client, action, letter).status_code == 302

    act.__name__ = f"operator_{action}"
    return act


def operator_changes_the_policy(operator, client, letter):
    client.force_login(operator)
    form = {
        field: getattr(Policy.current(), field)
        for field in (
            "pause_message",
            "burst_per_client",
            "sustained_per_client",
            "burst_per_domain",
            "sustained_per_domain",
            "allowed_domains",
            "allowed_networks",
            "blocked_domains",
            "blocked_patterns",
            "trending_alert_per_hour",
        )
    }
    form["burst_per_client"] = 12
    response = client.post("/admin/moderation/policy/add/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]


def operator_invalidates(operator, client, letter):
    client.force_login(operator)
    form = {"letter": letter.pk, "reason": "Puppets.", "domain": "sock.example", "confirm": "on"}
    assert client.post("/admin/moderation/invalidation/add/", form).status_code == 302


def operator_undoes(operator, client, letter):
    invalidation = moderation.invalidate(
        letter, moderation.Criteria(domain="sock.example"), "P.", via="command"
    )
    client.force_login(operator)
    form = {"action": "undo", "_selected_action": [invalidation.pk]}
    assert client.post("/admin/moderation/invalidation/", form).status_code == 302


def operator_removes_a_key(operator, client, letter):
    user = letter.organizers.first()
    key = OrganizerKey.objects.register(user, sealing.generate_keypair()[1])
    client.force_login(operator)
    url = f"/admin/accounts/organizerkey/{key.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 302


def command(*args):
    def run(operator, client, letter):
        call_command(*[arg.format(slug=letter.slug) for arg in args])

    run.__name__ = "command_" + "_".join(args[:2])
    return run


def command_undoes(operator, client, letter):
    invalidation = moderation.invalidate(
        letter, moderation.Criteria(domain="sock.example"), "P.", via="command"
    )
    call_command("invalidate", "--undo", str(invalidation.pk))


def organizer_makes_an_api_token(operator, client, letter):
    client.force_login(operator)
    form = {"label": "bot", "letter": letter.pk, "scope": "read", "expires_days": "30"}
    assert client.post("/accounts/tokens/", form).status_code == 200


def organizer_revokes_an_api_token(operator, client, letter):
    from undersigned.accounts import tokens

    token, _ = tokens.create(operator, scope="read", letter=letter, actor=operator, via="web")
    client.force_login(operator)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302


def organizer_sets_up_an_authenticator_app(operator, client, letter):
    import pyotp

    client.force_login(operator)
    secret = client.get("/accounts/two-factor/").context["secret"]
    assert (
        client.post("/accounts/two-factor/", {"code": pyotp.TOTP(secret).now()}).status_code == 200
    )


def command_creates_a_token(operator, client, letter):
    from undersigned.accounts.models import TotpDevice

    user = letter.organizers.get()
    TotpDevice.objects.create(user=user, secret="JBSWY3DPEHPK3PXP", confirmed=True)
    call_command(
        "token",
        "create",
        user.username,
        "--letter",
        letter.slug,
        "--scope",
        "read",
        stdout=io.StringIO(),
    )


def command_generates_a_key_for_a_user(operator, client, letter):
    folder = Path(tempfile.mkdtemp())
    (folder / "pass").write_text("correct horse battery staple\n")
    user = letter.organizers.first().username
    call_command(
        "keys",
        "generate",
        "--out",
        str(folder / "key.json"),
        "--user",
        user,
        "--passphrase-file",
        str(folder / "pass"),
    )


def command_exports(operator, client, letter):
    call_command("letter", "export", letter.slug, stdout=io.StringIO())


def command_creates(operator, client, letter):
    body = Path(tempfile.mkdtemp()) / "body.md"
    body.write_text("Please fix it.")
    call_command("letter", "create", "fix-it", "--title", "Fix it", "--body-file", str(body))


def organizer_posts(path: str, form: dict, name: str):
    def act(organizer, client, letter):
        client.force_login(organizer)
        response = client.post(f"/organize/{letter.slug}/{path}", form)
        assert response.status_code == 302, response.content.decode()[-2000:]

    act.__name__ = f"organizer_{name}"
    return act


def organizer_corrects_an_update(organizer, client, letter):
    organizer_posts("update/", {"body": "We met the concil."}, "")(organizer, client, letter)
    update = letter.updates.get()
    form = {"body": "We met the council."}
    assert client.post(f"/organize/{letter.slug}/update/{update.pk}/", form).status_code == 302


def organizer_sets_a_demand_status(organizer, client, letter):
    organizer_posts("demand/", {"text": "Cancel it"}, "")(organizer, client, letter)
    form = {"demand": letter.demands.get().pk, "status": "met", "note": "Done."}
    assert client.post(f"/organize/{letter.slug}/demand/", form).status_code == 302


def organizer_changes_the_address(organizer, client, letter):
    client.force_login(organizer)
    form = {**LETTER_FORM, "title": letter.title, "body": letter.body, "slug": "new-address"}
    form["addressed_to"] = letter.addressed_to
    assert client.post(f"/organize/{letter.slug}/", form).status_code == 302


def organizer_invited_accepts(organizer, client, letter):
    """Someone invited (by the command line) accepts: they act, as the newest organizer."""
    from django.contrib.auth import get_user_model

    from undersigned.letters import organizers

    with transaction.atomic():
        token = organizers.invite(letter, "new@example.org", "editor", via="command")
    newcomer = get_user_model().objects.create_user("newcomer")
    client.force_login(newcomer)
    assert client.post(f"/organize/join/{token}").status_code == 302
    return newcomer


def organizer_removes_a_co_organizer(organizer, client, letter):
    from django.contrib.auth import get_user_model

    from undersigned.letters.models import Organizer

    other = get_user_model().objects.create_user("other")
    Organizer.objects.create(letter=letter, user=other, role="viewer")
    client.force_login(organizer)
    url = f"/organize/{letter.slug}/team/remove/other/"
    assert client.post(url, {"confirm": "yes"}).status_code == 302


def command_with_a_file(*args):
    def run(operator, client, letter):
        text = Path(tempfile.mkdtemp()) / "text.md"
        text.write_text("A new text, said plainly.")
        call_command(*[a.format(slug=letter.slug, file=text) for a in args], stdout=io.StringIO())

    run.__name__ = "command_" + "_".join(args[:2])
    return run


RESPONSE_FORM = {
    "by": "Pat Chief",
    "date": "2026-01-05",
    "quote": "No.",
    "sources": "https://example.com/statement",
}


def a_tip_and_its_key_file(letter) -> tuple[str, list[str]]:
    """A tip to ``letter``'s organizer; its id and the options that open their key."""
    from undersigned.tips import services as tips
    from undersigned.tips.models import Conversation

    folder = Path(tempfile.mkdtemp())
    (folder / "pass").write_text("correct horse battery staple\n")
    private, public = sealing.generate_keypair()
    (folder / "key.json").write_bytes(
        sealing.protect_private_key(private, "correct horse battery staple")
    )
    OrganizerKey.objects.register(letter.organizers.first(), public)
    tips.submit(letter, "A tip.")
    key = ["--key", str(folder / "key.json"), "--passphrase-file", str(folder / "pass")]
    return Conversation.objects.get().pk, key


def command_replies_to_a_tip(operator, client, letter):
    conversation, key = a_tip_and_its_key_file(letter)
    call_command("tips", "reply", conversation, *key, "--canned", "thanks")


def command_reads_tips(operator, client, letter):
    _, key = a_tip_and_its_key_file(letter)
    call_command("tips", "read", *key, stdout=io.StringIO())


def command_tip(action: str, *more: str):
    def run(operator, client, letter):
        conversation, _ = a_tip_and_its_key_file(letter)
        call_command("tips", action, conversation, *more, stdout=io.StringIO())

    run.__name__ = f"command_tips_{action}"
    return run


def command_tip_recipients(option: str):
    def run(operator, client, letter):
        from undersigned.tips.models import Recipient

        user = letter.organizers.first()
        if option == "--remove":
            Recipient.objects.create(user=user)
        call_command("tips", "recipients", option, user.username, stdout=io.StringIO())

    run.__name__ = f"command_tips_recipients{option.replace('-', '_')}"
    return run


def operator_adds_a_tip_recipient(operator, client, letter):
    client.force_login(operator)
    user = letter.organizers.first()
    assert client.post("/admin/tips/recipient/add/", {"user": user.pk}).status_code == 302


def operator_removes_a_tip_recipient(operator, client, letter):
    from undersigned.tips.models import Recipient

    recipient = Recipient.objects.create(user=letter.organizers.first())
    client.force_login(operator)
    url = f"/admin/tips/recipient/{recipient.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 302


ACTS = [
    # (the act, the state of the letter before it, the events it leaves)
    (organizer_creates, "open", ["letter.created"]),
    (organizer_edits, "open", ["letter.revised"]),  # a published text: a new version
    (organizer_publishes, "draft", ["letter.published"]),
    (organizer_closes, "open", ["letter.closed"]),
    (organizer_reopens, "closed", ["letter.reopened"]),
    (organizer_exports, "open", ["letter.exported"]),
    (organizer_adds_a_key, "open", ["key.added"]),
    (operator_adds, "open", ["letter.created", "letter.organizers"]),
    (operator_changes, "open", ["letter.edited", "letter.revised"]),
    (operator_deletes, "open", ["letter.deleted"]),
    (operator_acts("publish_letters"), "draft", ["letter.published"]),
    (operator_acts("close_letters"), "open", ["letter.closed"]),
    (operator_acts("reopen_letters"), "closed", ["letter.reopened"]),
    (operator_acts("pause_signing"), "open", ["letter.paused"]),
    (operator_acts("resume_signing"), "paused", ["letter.resumed"]),
    (operator_changes_the_policy, "open", ["policy.changed"]),
    (operator_invalidates, "open", ["signatures.invalidated"]),
    (operator_undoes, "open", ["signatures.invalidated", "signatures.restored"]),
    (operator_removes_a_key, "open", ["key.removed"]),
    (command_creates, "open", ["letter.created"]),
    (command_exports, "open", ["letter.exported"]),
    (
        command(
            "pledge",
            "create",
            "p-{slug}",
            "--action",
            "leave",
            "--threshold",
            "3",
            "--deadline",
            "2099-12-31",
            "--letter",
            "{slug}",
            "--publish",
        ),
        "open",
        ["pledge.published"],
    ),
    (command("pause", "{slug}", "--message", "Soon."), "open", ["letter.paused"]),
    (command("pause", "{slug}", "--resume"), "paused", ["letter.resumed"]),
    (command("pause", "--message", "All paused."), "open", ["instance.paused"]),
    (command("pause", "--resume"), "open", ["instance.resumed"]),
    (
        command("invalidate", "{slug}", "--domain", "x.example", "--confirm", "--reason", "R."),
        "open",
        ["signatures.invalidated"],
    ),
    (command_undoes, "open", ["signatures.invalidated", "signatures.restored"]),
    (command_generates_a_key_for_a_user, "open", ["key.added"]),
    # Organizer accounts (issue 18).
    (organizer_makes_an_api_token, "open", ["token.created"]),
    (organizer_revokes_an_api_token, "open", ["token.created", "token.revoked"]),
    (
        organizer_sets_up_an_authenticator_app,
        "open",
        ["account.factor_added", "account.recovery_codes"],
    ),
    (command_creates_a_token, "open", ["token.created"]),
    # The letter's life: its timeline and its team (issue 14).
    (organizer_posts("update/", {"body": "News."}, "posts_an_update"), "open", ["update.posted"]),
    (organizer_corrects_an_update, "open", ["update.posted", "update.edited"]),
    (organizer_posts("demand/", {"text": "Cancel it"}, "adds_a_demand"), "open", ["demand.added"]),
    (organizer_sets_a_demand_status, "open", ["demand.added", "demand.status"]),
    (
        organizer_posts("response/", RESPONSE_FORM, "records_a_response"),
        "open",
        ["response.recorded"],
    ),
    (
        organizer_posts("team/invite/", {"email": "n@example.org", "role": "viewer"}, "invites"),
        "open",
        ["letter.invited"],
    ),
    (organizer_invited_accepts, "open", ["letter.invited", "letter.organizers"]),
    (organizer_removes_a_co_organizer, "open", ["letter.organizers"]),
    (organizer_changes_the_address, "open", ["letter.edited"]),
    (
        command_with_a_file("letter", "revise", "{slug}", "--body-file", "{file}"),
        "open",
        ["letter.revised"],
    ),
    (
        command_with_a_file("letter", "update", "{slug}", "--body-file", "{file}"),
        "open",
        ["update.posted"],
    ),
    (command("letter", "demand", "{slug}", "--text", "Cancel it"), "open", ["demand.added"]),
    (
        command_with_a_file(
            "letter",
            "response",
            "{slug}",
            "--by",
            "Pat",
            "--date",
            "2026-01-05",
            "--quote-file",
            "{file}",
            "--source",
            "https://example.com/",
        ),
        "open",
        ["response.recorded"],
    ),
    (
        command("letter", "organizers", "{slug}", "--invite", "n@example.org"),
        "open",
        ["letter.invited"],
    ),
    (command_replies_to_a_tip, "open", ["tip.replied"]),
    (command_reads_tips, "open", ["tip.status"]),  # new ones are marked read
    (command_tip("status", "answered"), "open", ["tip.status"]),
    (command_tip("close"), "open", ["tip.status"]),
    (command_tip("delete"), "open", ["tip.deleted"]),
    (command_tip_recipients("--add"), "open", ["tips.recipient_added"]),
    (command_tip_recipients("--remove"), "open", ["tips.recipient_removed"]),
    (operator_adds_a_tip_recipient, "open", ["tips.recipient_added"]),
    (operator_removes_a_tip_recipient, "open", ["tips.recipient_removed"]),
]


def act_name(value) -> str | None:
    return getattr(value, "__name__", None)


@pytest.mark.parametrize(("act", "state", "expected"), ACTS, ids=act_name)
def test_every_organizer_and_operator_act_leaves_an_event(
    act, state, expected, client, organizer, admin_user
):
    letter = make_letter([organizer], status={"paused": "open"}.get(state, state))
    if state == "paused":
        letter_services.pause(letter, via="command")
    start = last_id()
    person = organizer if act.__name__.startswith("organizer") else admin_user
    acted = act(person, client, letter) or person  # an act by someone else returns them
    assert kinds_since(start) == expected
    event = Event.objects.latest("id")  # the act's own (before it: what it set up)
    if act.__name__.startswith("command"):
        assert event.via == "command" and event.actor is None
    else:
        assert event.actor == acted
        assert event.via == ("admin" if person == admin_user else "web")


def test_a_refused_act_leaves_no_event_and_changes_nothing(client, organizer, admin_user):
    letter = make_letter([organizer])
    start = last_id()
    with pytest.raises(letter_services.LetterError):
        letter_services.publish(letter, via="command")
    client.force_login(organizer)
    response = client.post(f"/organize/{letter.slug}/reopen/", follow=True)
    assert "Only a closed letter can be reopened." in response.content.decode()
    client.force_login(admin_user)
    response = admin_action(client, "resume_signing", letter)
    assert kinds_since(start) == []
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.OPEN


def test_a_letter_whose_data_was_purged_cannot_be_reopened(organizer):
    letter = make_letter([organizer], status=Letter.Status.CLOSED)
    letter_services.destroy_key(letter)
    with pytest.raises(letter_services.LetterError, match="purged"):
        letter_services.reopen(letter, via="command")
    assert Event.objects.filter(kind="letter.key_destroyed", letter=letter).count() == 1
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.CLOSED


# --- the fan-out ----------------------------------------------------------------------------


def test_a_new_key_is_mailed_to_every_organizer_of_each_letter_concerned(
    organizer, co_organizer, outsider
):
    first = make_letter([organizer, co_organizer], slug="first")
    make_letter([organizer], slug="second")
    make_letter([outsider], slug="not-theirs")
    call_command("keys", "add", organizer.username, sealing.generate_keypair()[1])
    assert OutgoingEmail.objects.count() == 0  # the worker's fan-out queues them
    settle()
    mails = sorted((row.to, row.subject) for row in OutgoingEmail.objects.all())
    assert mails == [
        ("carlos@example.org", f'A key was added to an organizer of "{first.title}"'),
        ("olivia@example.org", f'A key was added to an organizer of "{first.title}"'),
        ("olivia@example.org", 'A key was added to an organizer of "Clean air for Riverside"'),
    ]
    assert fan_out() == 0  # once


@pytest.mark.django_db(transaction=True)
def test_two_workers_fan_out_each_event_exactly_once(organizer, co_organizer):
    letters = [make_letter([organizer, co_organizer], slug=f"l{i}") for i in range(10)]
    with transaction.atomic():
        for letter in letters:
            events.record("key.added", letter=letter, via="command", key_id="k", user="olivia")
    in_threads(lambda _: fan_out(limit=3) + fan_out(), [0, 1], threads=2, together=True)
    assert OutgoingEmail.objects.count() == 20  # two organizers per letter, once each
    assert not Event.objects.to_fan_out().exists()


def test_events_are_deleted_after_their_kinds_retention(letter):
    from undersigned.signatures.retention import purge

    kept = [name for name, spec in KINDS.items() if spec.retention]
    assert "trend.alert" in kept
    with transaction.atomic():
        alert = events.record(
            "trend.alert",
            letter=letter,
            via="worker",
            trend=1,
            field="ip_hash",
            count=3,
            threshold=2,
            hour=timezone.now().isoformat(),
        )
        events.record("letter.paused", letter=letter, via="command", message="m")
    with time_machine.travel(timezone.now() + KINDS["trend.alert"].retention - timedelta(days=1)):
        purge()
    assert Event.objects.filter(pk=alert.pk).exists()
    with time_machine.travel(timezone.now() + KINDS["trend.alert"].retention + timedelta(days=1)):
        assert purge()["old events deleted"] == 1
    assert not Event.objects.filter(pk=alert.pk).exists()
    assert Event.objects.filter(kind="letter.paused").exists()  # kept with its letter


# --- the audit entries become events --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_upgrade_turns_the_audit_entries_into_events_and_back(organizer):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("moderation", "0003_trend"), ("events", "0001_initial")]
    latest = [
        ("moderation", "0004_audit_entries_are_events"),
        ("events", "0002_from_audit_entries"),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    letter = apps.get_model("letters", "Letter").objects.create(slug="s", title="T", body="B")
    entry = apps.get_model("moderation", "AuditEntry").objects
    when = timezone.now().replace(microsecond=123000, minute=42)
    entry.create(
        actor_id=organizer.pk,
        action="letter-change",
        letter=letter,
        detail={"changed": ["title"]},
        created_at=when,
    )
    entry.create(action="pause", detail={"via": "command line"}, created_at=when)
    entry.create(
        action="invalidate",
        letter=letter,
        created_at=when,
        detail={"invalidation": 3, "count": 2, "reason": "R", "criteria": {"ip_hash": "ab12"}},
    )
    entry.create(
        action="trend-alert",
        letter=letter,
        created_at=when,
        detail={"field": "ip_hash", "key": "ab12", "count": 9, "hour": "h"},
    )

    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    rows = list(
        Event.objects.order_by("id").values("kind", "via", "data", "at", "actor_id", "audience")
    )
    assert [(r["kind"], r["via"]) for r in rows] == [
        ("letter.edited", "admin"),
        ("instance.paused", "command"),
        ("signatures.invalidated", "admin"),
        ("trend.alert", "worker"),
    ]
    assert rows[0]["data"] == {"fields": ["title"]} and rows[0]["actor_id"] == organizer.pk
    assert rows[0]["at"] == when
    assert rows[2]["data"] == {"invalidation": 3, "count": 2, "reason": "R"}  # no ip_hash
    assert rows[3]["data"] == {"field": "ip_hash", "count": 9, "hour": "h"}  # no key
    assert rows[3]["at"] == when.replace(minute=0, second=0, microsecond=0)
    assert [r["audience"] for r in rows] == ["organizers", "operators", "public", "operators"]
    assert "ab12" not in str(rows)

    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    back = apps.get_model("moderation", "AuditEntry").objects.order_by("id")
    assert [e.action for e in back] == ["letter-change", "pause", "invalidate", "trend-alert"]
    assert back[0].detail == {"changed": ["title"]} and back[1].detail == {"via": "command line"}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
