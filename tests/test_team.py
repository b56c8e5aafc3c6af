"""Organizers working together (issue 14): roles on every organizer page, invitations by a
one-time link (a GET changes nothing; a POST accepts; it expires), the last owner stays, and the
letter's audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern
from django.utils import timezone

from tests.conftest import mails_to, settle
from tests.test_pledges import make_pledge
from undersigned.letters import organizers as team
from undersigned.letters import timeline
from undersigned.letters.models import Invitation, Organizer
from undersigned.organize import urls as organize_urls

pytestmark = pytest.mark.django_db

# Every page of a letter's workspace, with the least role that may use it. Checked against the
# URL configuration below, so that a new page cannot be added without its row here.
PAGES = {
    ("letter", "GET"): "viewer",
    ("letter", "POST"): "editor",
    ("preview", "GET"): "viewer",
    ("publish", "POST"): "owner",
    ("reopen", "POST"): "owner",
    ("close", "GET"): "owner",
    ("close", "POST"): "owner",
    ("held", "POST"): "owner",
    ("update", "POST"): "editor",
    ("correct_update", "POST"): "editor",
    ("demand", "POST"): "editor",
    ("response", "POST"): "editor",
    ("log", "GET"): "viewer",
    ("invite", "POST"): "owner",
    ("remove", "GET"): "owner",
    ("remove", "POST"): "owner",
    ("export", "GET"): "viewer",
    ("pledges", "GET"): "viewer",
    ("pledges", "POST"): "editor",
    ("announce_pledge", "POST"): "editor",
}
NOT_OF_A_LETTER = {"dashboard", "create", "keys", "join"}
RANK = {"viewer": 0, "editor": 1, "owner": 2}


def url_of(name: str, letter) -> str:
    slug = letter.slug
    return {
        "remove": f"/organize/{slug}/team/remove/olivia/",
        "export": f"/organize/{slug}/export.csv",
        "letter": f"/organize/{slug}/",
        "invite": f"/organize/{slug}/team/invite/",
        "correct_update": f"/organize/{slug}/update/{letter.updates.get().pk}/",
        "announce_pledge": f"/organize/{slug}/pledges/leave/announce/",
    }.get(name, f"/organize/{slug}/{name}/")


@pytest.fixture
def people(django_user_model, organizer, letter):
    """An owner (olivia, from the fixture), an editor, a viewer, and an outsider."""
    made = {"owner": organizer}
    for role in ("editor", "viewer"):
        made[role] = django_user_model.objects.create_user(role, f"{role}@example.org", "pw-x-123")
    team.change(letter, roles={made["editor"]: "editor", made["viewer"]: "viewer"}, via="command")
    Organizer.objects.filter(letter=letter, user__username="carlos").delete()
    made["outsider"] = django_user_model.objects.create_user("out", "out@example.org", "pw-x-123")
    timeline.post_update(letter, "An update to correct.", via="command")
    make_pledge(letter=letter)
    return made


def test_the_table_names_every_page_of_the_workspace():
    names = {p.name for p in organize_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names - NOT_OF_A_LETTER == {name for name, _ in PAGES}


@pytest.mark.parametrize("who", ["outsider", "viewer", "editor", "owner"])
def test_every_workspace_page_enforces_its_role(people, letter, who):
    client = Client()
    client.force_login(people[who])
    for (name, method), needed in PAGES.items():
        url = url_of(name, letter)
        response = client.get(url) if method == "GET" else client.post(url, {})
        if who == "outsider":
            expected = {404}  # not told the letter exists
        elif RANK[who] < RANK[needed]:
            expected = {403}
        else:
            expected = {200, 302, 400}
        assert response.status_code in expected, (who, name, method, response.status_code)
    assert Organizer.objects.filter(letter=letter).count() == 3  # nobody was removed


def test_an_editor_keeps_the_timeline_but_cannot_publish_or_manage_the_team(people, letter):
    editor = Client()
    editor.force_login(people["editor"])
    workspace = editor.get(f"/organize/{letter.slug}/").content.decode()
    assert "Post an update" in workspace and ">Invite</button>" not in workspace
    assert "Close to new signatures" not in workspace
    posted = editor.post(f"/organize/{letter.slug}/update/", {"body": "News.", "action": "post"})
    assert posted.status_code == 302 and letter.updates.filter(body="News.").exists()
    assert editor.post(f"/organize/{letter.slug}/close/", {"confirm": "yes"}).status_code == 403
    letter.refresh_from_db()
    assert letter.status == "open"


def test_a_viewer_sees_counts_and_exports_and_no_forms(people, letter):
    viewer = Client()
    viewer.force_login(people["viewer"])
    workspace = viewer.get(f"/organize/{letter.slug}/").content.decode()
    assert 'id="counted"' in workspace and "Export CSV" in workspace
    assert "Post an update" not in workspace and 'name="body"' not in workspace


def invite(client, letter, email="newcomer@example.org", role="editor") -> str:
    response = client.post(f"/organize/{letter.slug}/team/invite/", {"email": email, "role": role})
    assert response.status_code == 302
    settle()
    body = mails_to(email, "invitation")[-1].body_text
    return re.search(r"/organize/join/(\S+)", body).group(1)


def test_an_invitation_is_accepted_by_post_once_and_a_get_changes_nothing(
    client, organizer, co_organizer, letter, django_user_model
):
    Organizer.objects.filter(letter=letter, user=co_organizer).delete()
    client.force_login(organizer)
    token = invite(client, letter, "carlos@example.org", "editor")
    invitation = Invitation.objects.get()
    assert invitation.token_hash != token and token not in invitation.token_hash
    assert "carlos@example.org" not in str(list(Invitation.objects.values()))  # not kept

    carlos = Client()
    carlos.force_login(co_organizer)
    shown = carlos.get(f"/organize/join/{token}")
    assert shown.status_code == 200
    assert "cannot read the names sealed before" in shown.content.decode()
    carlos.head(f"/organize/join/{token}")
    assert not Organizer.objects.filter(letter=letter, user=co_organizer).exists()  # GET: nothing
    assert Invitation.objects.get().accepted_by is None

    accepted = carlos.post(f"/organize/join/{token}")
    assert accepted.status_code == 302 and accepted["Location"] == f"/organize/{letter.slug}/"
    assert Organizer.objects.get(letter=letter, user=co_organizer).role == "editor"
    again = Client()
    again.force_login(django_user_model.objects.create_user("eve", "eve@example.org", "pw-e-123"))
    assert again.post(f"/organize/join/{token}").status_code == 404  # once
    assert not Organizer.objects.filter(letter=letter, user__username="eve").exists()


def test_an_invitation_expires_after_a_week(client, organizer, co_organizer, letter):
    client.force_login(organizer)
    token = invite(client, letter)
    carlos = Client()
    carlos.force_login(co_organizer)
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert carlos.get(f"/organize/join/{token}").status_code == 404
        assert carlos.post(f"/organize/join/{token}").status_code == 404
    assert Invitation.objects.get().accepted_by is None


def test_a_newcomer_makes_an_account_as_they_accept(client, organizer, letter, django_user_model):
    client.force_login(organizer)
    token = invite(client, letter, role="viewer")
    newcomer = Client()
    bad = newcomer.post(f"/organize/join/{token}", {"username": "nina", "password1": "x"})
    assert bad.status_code == 400 and not django_user_model.objects.filter(username="nina")
    good = newcomer.post(
        f"/organize/join/{token}",
        {"username": "nina", "password1": "a-long-pass-8364", "password2": "a-long-pass-8364"},
    )
    assert good.status_code == 302
    assert Organizer.objects.get(letter=letter, user__username="nina").role == "viewer"
    # A new account is led to set up its second factor before it reaches the letter.
    led = newcomer.get(f"/organize/{letter.slug}/")
    assert led.status_code == 302 and led.url.startswith("/accounts/two-factor/")


def test_accepting_a_lesser_role_never_lowers_ones_own(client, organizer, letter):
    client.force_login(organizer)
    token = invite(client, letter, role="viewer")
    assert client.post(f"/organize/join/{token}").status_code == 302
    assert Organizer.objects.get(letter=letter, user=organizer).role == "owner"


def test_a_bad_invitation_form_comes_back_with_its_error(client, organizer, letter):
    client.force_login(organizer)
    response = client.post(f"/organize/{letter.slug}/team/invite/", {"email": "not an address"})
    assert response.status_code == 400 and "valid email" in response.content.decode()
    assert not Invitation.objects.exists()


def test_discreet_letters_invite_without_naming_the_letter(client, organizer, letter):
    letter.discreet_mail = True
    letter.save(update_fields=["discreet_mail"])
    client.force_login(organizer)
    client.post(
        f"/organize/{letter.slug}/team/invite/", {"email": "n@work.example", "role": "editor"}
    )
    settle()
    mail = mails_to("n@work.example")[-1]
    for text in (mail.subject, mail.body_text, mail.body_html):
        assert letter.title not in text and "olivia" not in text and "Riverside" not in text
    assert "/organize/join/" in mail.body_text


def test_removing_an_organizer_asks_first_and_the_last_owner_cannot_leave(
    client, organizer, co_organizer, letter
):
    client.force_login(organizer)
    asked = client.post(f"/organize/{letter.slug}/team/remove/carlos/")
    assert asked.status_code == 200 and "confirm" in asked.content.decode()
    assert Organizer.objects.filter(letter=letter, user=co_organizer).exists()
    Organizer.objects.filter(letter=letter, user=co_organizer).update(role="editor")
    left = client.post(f"/organize/{letter.slug}/team/remove/olivia/", {"confirm": "yes"})
    assert left.status_code == 302
    assert Organizer.objects.get(letter=letter, user=organizer).role == "owner"
    assert "needs an owner" in client.get(f"/organize/{letter.slug}/").content.decode()
    removed = client.post(f"/organize/{letter.slug}/team/remove/carlos/", {"confirm": "yes"})
    assert removed.status_code == 302
    assert list(letter.organizers.all()) == [organizer]


def test_the_admin_refuses_to_leave_a_letter_without_an_owner(admin_client, organizer, letter):
    from tests.test_events import LETTER_FORM

    owners = Organizer.objects.filter(letter=letter).order_by("id")
    form = {
        **LETTER_FORM,
        "slug": letter.slug,
        "organizer_set-TOTAL_FORMS": str(owners.count()),
        "organizer_set-INITIAL_FORMS": str(owners.count()),
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    for i, member in enumerate(owners):
        form |= {
            f"organizer_set-{i}-id": str(member.pk),
            f"organizer_set-{i}-letter": str(letter.pk),
            f"organizer_set-{i}-user": str(member.user_id),
            f"organizer_set-{i}-role": "editor",
        }
    response = admin_client.post(f"/admin/letters/letter/{letter.pk}/change/", form)
    assert response.status_code == 200 and "A letter needs an owner" in response.content.decode()
    assert set(Organizer.objects.filter(letter=letter).values_list("role", flat=True)) == {"owner"}


def test_the_audit_log_shows_organizer_acts_paginated_and_no_signer(client, organizer, letter):
    from tests.test_life import sign_and_confirm

    sign_and_confirm(letter, "secret.signer@example.org", name="Secret Signer")
    for n in range(55):
        timeline.post_update(letter, f"Update {n}", actor=organizer, via="web")
    client.force_login(organizer)
    first = client.get(f"/organize/{letter.slug}/log/").content.decode()
    assert first.count("<tr><td>") == 50 and first.count("<td>Update</td>") == 50
    assert 'rel="next"' in first
    second = client.get(f"/organize/{letter.slug}/log/?page=2").content.decode()
    assert second.count("<td>Update</td>") == 5 and "<td>Published</td>" in second
    for page in (first, second):
        assert "Secret Signer" not in page and "secret.signer" not in page


# --- the command line -------------------------------------------------------------------------


def test_the_command_lists_invites_and_removes_organizers(organizer, co_organizer, letter, capsys):
    call_command("letter", "organizers", letter.slug)
    listed = capsys.readouterr().out
    assert "olivia\towner" in listed and "carlos\towner" in listed
    call_command(
        "letter", "organizers", letter.slug, "--invite", "x@example.org", "--role", "viewer"
    )
    settle()
    assert mails_to("x@example.org", "invitation") and Invitation.objects.get().role == "viewer"
    call_command("letter", "organizers", letter.slug, "--remove", "carlos")
    assert list(letter.organizers.all()) == [organizer]
    with pytest.raises(CommandError, match="needs an owner"):
        call_command("letter", "organizers", letter.slug, "--remove", "olivia")
    with pytest.raises(CommandError, match="does not organize"):
        call_command("letter", "organizers", letter.slug, "--remove", "nobody")
    with pytest.raises(CommandError, match="--invite"):
        call_command("letter", "organizers", letter.slug, "--invite", "not-an-address")
    with pytest.raises(CommandError, match="no letter"):
        call_command("letter", "organizers", "no-such-letter")
