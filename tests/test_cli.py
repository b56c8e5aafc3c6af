"""The ``undersigned`` console script: letter create/list/export, demo, and clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from undersigned.letters.models import Letter
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "letter.md"
    path.write_text("Dear Council,\n\nPlease **act**.\n", encoding="utf-8")
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_a_draft_letter(body_file, organizer):
    out = run(
        "letter",
        "create",
        "parks",
        "--title",
        "Save the parks",
        "--body-file",
        str(body_file),
        "--organizer",
        "olivia",
    )
    letter = Letter.objects.get(slug="parks")
    assert letter.status == Letter.Status.DRAFT
    assert letter.body.startswith("Dear Council")
    assert list(letter.organizers.all()) == [organizer]
    assert "saved as a draft" in out


def test_it_creates_and_publishes_a_letter(body_file):
    out = run(
        "letter",
        "create",
        "parks",
        "--title",
        "Save the parks",
        "--body-file",
        str(body_file),
        "--publish",
        "--visibility",
        "unlisted",
    )
    letter = Letter.objects.get(slug="parks")
    assert letter.status == Letter.Status.OPEN and letter.visibility == "unlisted"
    assert "published: /l/parks/" in out


def test_it_lists_letters(letter):
    out = run("letter", "list")
    assert "clean-air\topen\tpublic\t0 signed\tClean air for Riverside" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["Bad Slug!", "--title", "T"], "SLUG: Enter a valid"),
        (["ok", "--title", ""], "--title: This field is required"),
        (["ok", "--title", "T", "--organizer", "nobody"], "no user 'nobody'"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_message(body_file, args, message):
    with pytest.raises(CommandError, match=message):
        run("letter", "create", *args, "--body-file", str(body_file))
    assert not Letter.objects.exists()


def test_it_refuses_a_slug_that_is_taken(body_file, letter):
    with pytest.raises(CommandError, match="already exists"):
        run("letter", "create", letter.slug, "--title", "T", "--body-file", str(body_file))


def test_it_refuses_a_body_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("Caf\xe9".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run("letter", "create", "x", "--title", "T", "--body-file", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        run("letter", "create", "x", "--title", "T", "--body-file", str(tmp_path / "missing"))
    assert not Letter.objects.exists()


def add_signatures(letter):
    rows = [
        ("Ada", "public", "confirmed"),
        ("Bea", "hidden", "confirmed"),
        ("=HYPERLINK(1)", "public", "confirmed"),
        ("Pending Pat", "public", "pending"),
    ]
    for i, (name, display, status) in enumerate(rows):
        Signature.objects.create(
            letter=letter, name=name, display=display, status=status, email_hash=f"{i:064x}"
        )


def test_it_exports_confirmed_signatures_as_csv(letter, capsys):
    add_signatures(letter)
    call_command("letter", "export", letter.slug, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["name"] for r in rows) == ["'=HYPERLINK(1)", "Ada", "Bea"]
    assert set(rows[0]) == {
        "verified_domain",
        "name",
        "affiliation",
        "department",
        "comment",
        "display",
        "confirmed_on",
        "forge",
        "forge_username",
        "forge_fingerprint",
    }


def test_it_exports_confirmed_signatures_as_json(letter, capsys):
    add_signatures(letter)
    call_command("letter", "export", letter.slug, "--format", "json")
    data = json.loads(capsys.readouterr().out)
    assert data["letter"] == letter.slug
    assert sorted(r["name"] for r in data["signatures"]) == ["=HYPERLINK(1)", "Ada", "Bea"]


def test_it_refuses_to_export_an_unknown_letter():
    with pytest.raises(CommandError, match="no letter 'nope'"):
        run("letter", "export", "nope")


def test_the_console_script_reports_an_unknown_format_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "undersigned", "letter", "export", "x", "--format", "xml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "invalid choice: 'xml'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_loads_a_letter_once_and_prints_a_login(capsys):
    call_command("demo")
    call_command("demo")
    out = capsys.readouterr().out
    letter = Letter.objects.get()
    assert letter.status == Letter.Status.OPEN
    assert 30 <= letter.signature_count == Signature.objects.confirmed().count()
    assert "user 'organizer', password '" in out
    assert "/l/better-bike-lanes/" in out
