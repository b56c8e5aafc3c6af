"""The letter's life (issue 14): versions of its text, what each signer signed, and one public
timeline of updates, demands and responses, the same on the page, in the API and in the feed."""

from __future__ import annotations

import re
from datetime import date, timedelta

import feedparser
import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import confirmation_token, drain, mails_to, make_letter, settle
from undersigned.letters import services as letter_services
from undersigned.letters import timeline
from undersigned.letters.models import Letter, Version
from undersigned.letters.models.life import ImmutableError, text_hash
from undersigned.signatures.models import Signature
from undersigned.signatures.services import signature_for_receipt

pytestmark = pytest.mark.django_db

EDIT = {
    "title": "Clean air for Riverside",
    "slug": "clean-air",
    "addressed_to": "Riverside Council",
    "visibility": "public",
    "purge_after_days": "30",
}


def sign_and_confirm(letter, email, *, version=None, updates=False, n=1, **fields) -> str:
    """A signer signs (from their own address) and confirms by their link; their receipt."""
    data = {"name": fields.pop("name", "Ada Byron"), "email": email, "display": "public", **fields}
    if version is not None:
        data["version"] = str(version)
    if updates:
        data["updates"] = "on"
    signer = Client(REMOTE_ADDR=f"198.51.100.{n}")
    assert signer.post(f"/l/{letter.slug}/", data).status_code == 302
    settle()
    body = [row for row in mails_to(email) if row.kind.startswith("confirm")][-1].body_text
    assert Client().post(f"/v/{confirmation_token(body)}").status_code == 200
    return body.split("/s/")[1].split()[0]


def revise_on_the_page(client, letter, body: str, **changes) -> None:
    form = {**EDIT, "slug": letter.slug, "title": letter.title, "body": body, **changes}
    response = client.post(f"/organize/{letter.slug}/", form)
    assert response.status_code == 302, response.content.decode()[-1500:]


def page_of(client, letter) -> str:
    return client.get(f"/l/{letter.slug}/").content.decode()


# --- versions ---------------------------------------------------------------------------------


def test_publishing_makes_version_1_with_the_hash_of_its_text(letter, client):
    version = letter.versions.get()
    assert (version.number, letter.version) == (1, 1)
    assert version.hash == text_hash(letter.title, letter.addressed_to, letter.body)
    assert re.fullmatch(r"[0-9a-f]{64}", version.hash)
    api = client.get(f"/api/v1/letters/{letter.slug}").json()
    assert api["version"] == {"number": 1, "hash": version.hash}
    assert [v["number"] for v in api["versions"]] == [1]
    assert api["events_url"].endswith(f"/api/v1/letters/{letter.slug}/events")


def test_a_draft_has_no_version_and_its_edits_make_none(client, organizer, draft_letter):
    client.force_login(organizer)
    revise_on_the_page(client, draft_letter, "Still a draft.")
    assert not draft_letter.versions.exists()
    assert Letter.objects.get(pk=draft_letter.pk).version == 0


def test_a_signature_keeps_its_version_after_a_revision_and_reaffirming_moves_it_once(
    client, organizer, letter
):
    receipt = sign_and_confirm(letter, "ada@example.org")
    drain()
    client.force_login(organizer)
    revise_on_the_page(client, letter, letter.body + "\nAnd quiet nights.\n")
    letter.refresh_from_db()
    assert letter.version == 2 and letter.versions.count() == 2
    signature = Signature.objects.get()
    assert signature.version == 1  # never silently moved

    bob = sign_and_confirm(letter, "bob@example.org", name="Bob", n=2)  # shown version 2
    drain()
    assert signature_for_receipt(bob).version == 2
    html = page_of(Client(), letter)
    assert "This is version 2 of the text" in html
    assert "1 signed version 2" in html and "1 signed version 1" in html
    api = Client().get(f"/api/v1/letters/{letter.slug}").json()
    assert [(v["number"], v["signature_count"]) for v in api["versions"]] == [(1, 1), (2, 1)]

    private = Client().get(f"/s/{receipt}").content.decode()
    assert "I sign version 2" in private and "You signed version 1" in private
    for _ in range(2):  # a double click moves it once
        assert Client().post(f"/s/{receipt}", {"action": "reaffirm"}).status_code == 200
    drain()
    assert Signature.objects.get(pk=signature.pk).version == 2
    api = Client().get(f"/api/v1/letters/{letter.slug}").json()
    assert [(v["number"], v["signature_count"]) for v in api["versions"]] == [(1, 0), (2, 2)]
    assert api["signature_count"] == 2  # re-affirming counts nobody twice
    assert "I sign version" not in Client().get(f"/s/{receipt}").content.decode()


def test_the_form_carries_the_version_its_signer_was_shown(client, organizer, letter):
    shown = Client().get(f"/l/{letter.slug}/").content.decode()
    assert re.search(r'<input type="hidden" name="version" value="1"', shown)
    client.force_login(organizer)
    revise_on_the_page(client, letter, "A changed text.")  # while the signer was reading
    ada = sign_and_confirm(letter, "ada@example.org", version=1)
    eve = sign_and_confirm(letter, "eve@example.org", version=99, name="Eve", n=2)  # unknown
    drain()
    assert (signature_for_receipt(ada).version, signature_for_receipt(eve).version) == (1, 2)


def test_the_versions_page_shows_every_version_and_a_word_diff_readable_without_colour(
    client, organizer, letter
):
    client.force_login(organizer)
    revise_on_the_page(client, letter, letter.body.replace("clean air", "cleaner air"))
    revise_on_the_page(
        client, letter, "We ask for **two** things.\n", corrections_only="on", title="Two asks"
    )
    page = Client().get(f"/l/{letter.slug}/versions/")
    html = page.content.decode()
    assert page.status_code == 200
    for version in Version.objects.filter(letter=letter):
        assert version.hash in html
    assert "(corrections only)" in html
    diff = html.split('id="diff"')[1]
    assert re.search(r"<del>\s*<span class=\"visually-hidden\">\[removed: </span>", diff)
    assert "[added: </span>Two" in diff and "cleaner" in diff
    older = Client().get(f"/l/{letter.slug}/versions/?from=1&to=2").content.decode()
    diff = older.split('id="diff"')[1]
    assert "[removed: </span>clean" in diff and "[added: </span>cleaner" in diff
    assert "Two" not in diff
    for bad in ("?from=x&to=2", "?from=1&to=99", "?to=-1"):
        assert Client().get(f"/l/{letter.slug}/versions/{bad}").status_code == 200


def test_a_version_cannot_be_changed_or_deleted_anywhere(client, admin_client, organizer, letter):
    version = letter.versions.get()
    version.body = "Something nobody signed."
    with pytest.raises(ImmutableError):
        version.save()
    with pytest.raises(ImmutableError):
        version.delete()
    # The admin shows the versions of a letter, read-only, and has no page to change one.
    change = admin_client.get(f"/admin/letters/letter/{letter.pk}/change/").content.decode()
    assert version.hash in change
    assert 'name="versions-0-body"' not in change and 'name="versions-0-DELETE"' not in change
    assert admin_client.get("/admin/letters/version/").status_code == 404
    # The public pages and the API only read.
    for url in (f"/l/{letter.slug}/versions/", f"/api/v1/letters/{letter.slug}"):
        for method in ("put", "patch", "delete"):
            assert getattr(Client(), method)(url).status_code == 405
    assert Client().post(f"/l/{letter.slug}/versions/", {"body": "x"}).status_code == 405
    # An organizer's edit makes a new version; the old one stays as it was.
    client.force_login(organizer)
    revise_on_the_page(client, letter, "Something else.")
    assert Version.objects.get(pk=version.pk).body == letter.body
    assert Version.objects.get(pk=version.pk).hash == version.hash


def test_closing_and_reopening_are_events_not_versions(letter):
    letter_services.close(letter, via="command")
    letter_services.reopen(letter, via="command")
    assert letter.versions.count() == 1
    kinds = [e["kind"] for e in timeline.entries(letter)[0]]
    assert kinds[:2] == ["letter.reopened", "letter.closed"]


def test_a_changed_slug_keeps_the_old_address_working(client, organizer, letter):
    client.force_login(organizer)
    revise_on_the_page(client, letter, letter.body, slug="cleaner-air")
    for old, new in (
        ("/l/clean-air/", "/l/cleaner-air/"),
        ("/l/clean-air/versions/", "/l/cleaner-air/versions/"),
        ("/l/clean-air/feed.atom", "/l/cleaner-air/feed.atom"),
        ("/api/v1/letters/clean-air", "/api/v1/letters/cleaner-air"),
        ("/api/v1/letters/clean-air/count", "/api/v1/letters/cleaner-air/count"),
    ):
        moved = Client().get(old)
        assert moved.status_code == 301, old
        assert moved["Location"] == new
        assert Client().get(new).status_code == 200
    assert Letter.objects.get().versions.count() == 1  # a new address is not a new text
    # A new letter may take the old address back; the redirect then yields to it.
    make_letter([organizer], slug="clean-air", title="Another letter")
    assert Client().get("/l/clean-air/").status_code == 200


# --- the timeline -----------------------------------------------------------------------------


def a_full_timeline(letter, organizer) -> None:
    timeline.post_update(letter, "We **met** the council.", actor=organizer, via="web")
    demand = timeline.add_demand(letter, "Cancel the contract", actor=organizer, via="web")
    timeline.record_response(
        letter,
        by="Pat Chief",
        role="Chief executive",
        said_on=date(2026, 6, 20),
        quote="We are not working on any such project.",
        sources=["https://example.com/blog/statement"],
        note="This contradicts their January post.",
        note_sources=["https://example.com/blog/january"],
        actor=organizer,
        via="web",
    )
    letter_services.revise(letter, body="A sharper text.", actor=organizer, via="web")
    timeline.set_demand_status(demand, "refused", "They said no.", actor=organizer, via="web")
    letter_services.close(letter, actor=organizer, via="web")


def feed_of(letter):
    response = Client().get(f"/l/{letter.slug}/feed.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return feedparser.parse(response.content)


def test_the_timeline_on_the_page_in_the_api_and_in_the_feed_agree(organizer, letter):
    a_full_timeline(letter, organizer)
    html = page_of(Client(), letter)
    on_page = [int(i) for i in re.findall(r'<li id="e-(\d+)"', html)]

    in_api, url = [], f"/api/v1/letters/{letter.slug}/events?limit=2"
    while url:  # walk every page by its cursor
        page = Client().get(url).json()
        in_api += page["events"]
        url = page["next_url"]
    feed = feed_of(letter)
    in_feed = [int(entry.link.rsplit("#e-", 1)[1]) for entry in feed.entries]

    assert on_page == [e["id"] for e in in_api] == in_feed
    assert [e["kind"] for e in in_api] == [
        "letter.closed",
        "demand.status",
        "letter.revised",
        "response.recorded",
        "demand.added",
        "update.posted",
        "letter.published",
    ]
    ids = [e["id"] for e in in_api]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)  # newest first
    for entry in in_api:
        assert entry["url"].endswith(f"/l/{letter.slug}/#e-{entry['id']}")
    response = next(e for e in in_api if e["kind"] == "response.recorded")
    assert response["by"] == "Pat Chief" and response["said_on"] == "2026-06-20"
    assert response["sources"] == [
        {"url": "https://example.com/blog/statement", "seen_on": timezone.now().date().isoformat()}
    ]
    assert "contradicts" in response["note"]
    status = next(e for e in in_api if e["kind"] == "demand.status")
    assert (status["status"], status["demand"], status["note"]) == (
        "refused",
        "Cancel the contract",
        "They said no.",
    )
    assert "<strong>met</strong>" in html and "Pat Chief, Chief executive" in html
    assert 'href="https://example.com/blog/january"' in html
    demands = Client().get(f"/api/v1/letters/{letter.slug}").json()["demands"]
    assert [(d["text"], d["status"]) for d in demands] == [("Cancel the contract", "refused")]


def test_the_feed_parses_as_atom_with_a_stable_id_per_entry(organizer, letter):
    a_full_timeline(letter, organizer)
    feed = feed_of(letter)
    assert feed.version == "atom10" and not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == f"{letter.title}: timeline"
    assert len(feed.entries) == 7
    for entry in feed.entries:
        assert entry.id == entry.link and "#e-" in entry.id
        assert entry.updated_parsed and entry.title
    again = feed_of(letter)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    update = next(e for e in feed.entries if "update" in e.title.lower())
    assert "<strong>met</strong>" in update.summary


def test_an_update_corrected_later_says_when(organizer, letter):
    update = timeline.post_update(letter, "We met the concil.", actor=organizer, via="web")
    timeline.edit_update(update, "We met the council.", actor=organizer, via="web")
    html = page_of(Client(), letter)
    assert "We met the council." in html and "concil" not in html
    assert "Edited on" in html
    events = Client().get(f"/api/v1/letters/{letter.slug}/events").json()["events"]
    assert [e["kind"] for e in events][:2] == ["update.edited", "update.posted"]
    assert all(e["edited_at"] for e in events[:2])


def test_the_page_shows_the_latest_entries_and_the_rest_a_page_at_a_time(organizer, letter):
    for n in range(timeline.PAGE + 5):
        timeline.post_update(letter, f"Update number {n}.", actor=organizer, via="command")
    html = page_of(Client(), letter)
    assert len(re.findall(r'<li id="e-', html)) == timeline.PAGE
    older = re.search(r'href="(/l/clean-air/timeline/\?before=\d+)"', html)
    assert older, "no link to older entries"
    rest = Client().get(older.group(1)).content.decode()
    assert "Update number 0." in rest and "Update number 24." not in rest
    assert len(re.findall(r'<li id="e-', rest)) == 6  # five updates and the publication


def test_bad_cursors_get_a_clear_error_in_the_api_and_a_page_on_the_site(letter):
    for query in ("before=x", "limit=0", "limit=101", "before=-3", "limit=ten"):
        response = Client().get(f"/api/v1/letters/{letter.slug}/events?{query}")
        assert response.status_code == 400 and "error" in response.json(), query
    assert Client().get(f"/l/{letter.slug}/timeline/?before=zzz").status_code == 200


def test_a_response_needs_a_source_and_a_date_that_has_come(organizer, letter):
    common = {"by": "Pat", "quote": "No.", "actor": organizer, "via": "web"}
    with pytest.raises(letter_services.LetterError, match="source"):
        timeline.record_response(letter, said_on=date(2026, 1, 2), sources=[], **common)
    with pytest.raises(letter_services.LetterError, match="web address"):
        timeline.record_response(
            letter, said_on=date(2026, 1, 2), sources=["javascript:alert(1)"], **common
        )
    with pytest.raises(letter_services.LetterError, match="future"):
        timeline.record_response(
            letter,
            said_on=timezone.now().date() + timedelta(days=2),
            sources=["https://example.com/"],
            **common,
        )
    assert not letter.responses.exists()


def test_members_only_timelines_stay_inside(organizer):
    inside = make_letter(
        [organizer], slug="inside", visibility="members", domains="company.example"
    )
    timeline.post_update(inside, "Internal news.", actor=organizer, via="web")
    assert Client().get("/l/inside/feed.atom").status_code == 404
    assert Client().get("/api/v1/letters/inside/events").status_code == 403
    assert "Internal news." not in Client().get("/l/inside/timeline/").content.decode()


# --- the command line -------------------------------------------------------------------------


def test_the_commands_revise_post_demand_and_respond(letter, tmp_path, capsys):
    from django.core.management import call_command

    text = tmp_path / "text.md"
    text.write_text("We ask for **two** things.\r\n")
    call_command("letter", "revise", letter.slug, "--body-file", str(text), "--corrections-only")
    out = capsys.readouterr().out
    version = Version.objects.get(letter=letter, number=2)
    assert version.hash in out and version.corrections_only
    assert version.body == "We ask for **two** things."  # CRLF, final newline: gone

    text.write_text("We met the council.")
    call_command("letter", "update", letter.slug, "--body-file", str(text), "--mail-subscribers")
    assert letter.updates.get().body == "We met the council."

    call_command("letter", "demand", letter.slug, "--text", "Cancel the contract")
    demand_id = int(capsys.readouterr().out.split()[-1])
    call_command(
        "letter",
        "demand",
        letter.slug,
        "--id",
        str(demand_id),
        "--status",
        "partly-met",
        "--note",
        "Paused, not cancelled.",
    )
    assert letter.demands.get(pk=demand_id).status == "partly-met"

    text.write_text("We are not working on it.")
    call_command(
        "letter",
        "response",
        letter.slug,
        "--by",
        "Pat Chief",
        "--role",
        "CEO",
        "--date",
        "2026-06-20",
        "--quote-file",
        str(text),
        "--source",
        "https://example.com/a",
        "--source",
        "https://example.com/b",
    )
    response = letter.responses.get()
    assert [s["url"] for s in response.sources] == [
        "https://example.com/a",
        "https://example.com/b",
    ]
    kinds = [e["kind"] for e in timeline.entries(letter)[0]]
    assert kinds[:5] == [
        "response.recorded",
        "demand.status",
        "demand.added",
        "update.posted",
        "letter.revised",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["revise", "clean-air", "--body-file", "SAME"], "same as the current version"),
        (["revise", "no-such", "--body-file", "SAME"], "no letter 'no-such'"),
        (["revise", "clean-air", "--body-file", "/nonexistent"], "Cannot read --body-file"),
        (["update", "clean-air", "--body-file", "EMPTY"], "needs some text"),
        (["demand", "clean-air"], "Give either --text"),
        (["demand", "clean-air", "--text", "x" * 501], "at most 500"),
        (["demand", "clean-air", "--id", "999", "--status", "met"], "has no demand 999"),
        (["demand", "clean-air", "--id", "1"], "Give --status"),
        (
            [
                "response",
                "clean-air",
                "--by",
                "P",
                "--date",
                "20 June",
                "--quote-file",
                "SAME",
                "--source",
                "https://example.com/",
            ],
            "is not a date",
        ),
        (
            [
                "response",
                "clean-air",
                "--by",
                "P",
                "--date",
                "2026-06-20",
                "--quote-file",
                "SAME",
                "--source",
                "ftp://example.com/",
            ],
            "is not a web address",
        ),
        (["update", "clean-air", "--body-file", "CONTROL"], "--body-file"),
    ],
)
def test_the_commands_refuse_bad_input_with_a_message_and_change_nothing(
    letter, tmp_path, args, message
):
    from django.core.management import CommandError, call_command

    files = {"SAME": letter.body, "EMPTY": "  \n", "CONTROL": "Bad \x1b[31m text"}
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    args = [str(tmp_path / a) if a in files else a for a in args]
    before = timeline.entries(letter)[0]
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("letter", *args)
    assert timeline.entries(letter)[0] == before
    assert letter.versions.count() == 1
