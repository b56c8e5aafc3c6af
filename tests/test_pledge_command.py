"""``undersigned pledge create|list|publish|announce``, and the demo's pledge: what each
prints, and a CommandError a person can act on for every bad option."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.conftest import make_letter
from tests.test_pledges import make_pledge
from undersigned.pledges.models import Pledge

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("pledge", *args, stdout=out)
    return out.getvalue()


def test_the_command_creates_and_lists_pledges(organizer):
    letter = make_letter([organizer])
    deadline = (timezone.now() + timedelta(days=30)).date().isoformat()
    out = run(
        "create",
        "leave",
        "--action",
        "leave the forge",
        "--threshold",
        "100",
        "--deadline",
        deadline,
        "--letter",
        letter.slug,
        "--publish",
    )
    assert "published" in out
    pledge = Pledge.objects.get()
    assert pledge.letter == letter and pledge.is_published and pledge.threshold == 100
    run(
        "create",
        "quiet",
        "--action",
        "strike",
        "--threshold",
        "5",
        "--deadline",
        deadline,
        "--verified-only",
        "--domain",
        "example.com",
    )
    listed = run("list")
    assert "leave\topen\t0 of 100" in listed and "quiet\tdraft\t0 of 5" in listed
    assert Pledge.objects.get(slug="quiet").domain_list == ["example.com"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "0"], "--threshold"),
        (["--threshold", "many"], "--threshold"),
        (["--deadline", "2020-01-01"], "in the past"),
        (["--deadline", "31/12/2099"], "--deadline"),
        (["--action", "\x07"], "--action"),
        (["--letter", "no-such"], "no letter"),
        (["--domain", "not a domain"], "--domain"),
    ],
)
def test_the_command_refuses_bad_input(args, message):
    base = {"--action": "leave", "--threshold": "3", "--deadline": "2099-12-31"}
    extra = dict(zip(args[::2], args[1::2], strict=False)) if len(args) % 2 == 0 else {}
    options = {**base, **{k: v for k, v in extra.items()}}
    argv = [x for pair in options.items() for x in pair]
    argv += [a for a in args if a == "--verified-only"]
    with pytest.raises(CommandError, match=message):
        run("create", "leave", *argv)
    assert not Pledge.objects.exists()


def test_the_command_refuses_a_taken_slug_and_early_or_empty_announcements(tmp_path):
    make_pledge()
    with pytest.raises(CommandError, match="already"):
        run("create", "leave", "--action", "a", "--threshold", "3", "--deadline", "2099-01-01")
    empty, body = tmp_path / "empty.txt", tmp_path / "body.txt"
    empty.write_text("  \n")
    body.write_text("News.")
    with pytest.raises(CommandError, match="Only a met pledge"):
        run("announce", "leave", "--subject", "S", "--body-file", str(body))
    with pytest.raises(CommandError, match="empty"):
        run("announce", "leave", "--subject", "S", "--body-file", str(empty))
    with pytest.raises(CommandError, match="Cannot read"):
        run("announce", "leave", "--subject", "S", "--body-file", str(tmp_path / "none"))
    with pytest.raises(CommandError, match="no pledge"):
        run("announce", "none", "--subject", "S", "--body-file", str(body))


def test_the_demo_has_an_open_pledge_on_its_letter(capsys):
    call_command("demo")
    call_command("demo")
    pledge = Pledge.objects.get()
    assert pledge.letter.slug == "better-bike-lanes" and pledge.status == Pledge.Status.OPEN
    assert pledge.accepts_commitments
    assert "/p/bike-week/" in capsys.readouterr().out
