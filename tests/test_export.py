"""Exports of a letter's signatures: exactly these bytes for every kind of signature, with and
without an organizer's key, however the rows fall into chunks."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from tests.conftest import make_letter
from undersigned.lib import sealing
from undersigned.moderation.models import Invalidation
from undersigned.signatures import export
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def keys():
    """The organizer's private key, and one of a key pair that is not theirs."""
    private, public = sealing.generate_keypair()
    _, other_public = sealing.generate_keypair()
    return private, public, other_public


@pytest.fixture
def signed(letter, keys):
    """A letter with one signature of every kind, in a known order."""
    _, public, other_public = keys
    other_letter = make_letter(slug="other-letter")
    invalidation = Invalidation.objects.create(letter=letter, reason="Bots")
    hidden = {"name": "Hidden Hana", "affiliation": "=cmd|' /C calc'!A0", "comment": "Ça va"}
    kinds = [
        # (order key, fields); every row is confirmed unless it says otherwise
        (1, {"name": "Ada Lovelace", "affiliation": "Analytical Society", "department": "Maths",
             "comment": 'She said "yes",\nthen left', "confirmed_at": at("2026-03-04", 10)}),
        (2, {"name": '=HYPERLINK("http://x")', "affiliation": "+1 Org", "department": "-dept",
             "comment": "@mention", "verified_domain": "example.org",
             "confirmed_at": at("2026-03-04", 23)}),
        (3, {"name": "\tTabbed", "affiliation": "\rReturn", "comment": "plain, with a comma",
             "confirmed_at": None}),
        (4, {"display": "hidden", "department": "Physics",
             "sealed": sealing.seal(hidden, [public]), "confirmed_at": at("2026-01-01", 0)}),
        (5, {"display": "hidden", "sealed": sealing.seal(hidden, [other_public]),
             "verified_domain": "example.org", "confirmed_at": at("2025-12-31", 23)}),
        (6, {"display": "hidden", "sealed": None, "department": "Law",
             "confirmed_at": at("2025-06-30", 12)}),
        (7, {"display": "count", "verified_domain": "example.org",
             "confirmed_at": at("2025-07-01", 1)}),
        (8, {"name": "Zoë 李", "affiliation": " =not first", "department": 'R&D; "Labs"',
             "comment": "-", "confirmed_at": at("2024-02-29", 5)}),
        (9, {"name": "=", "affiliation": "@", "department": "+", "comment": "--",
             "verified_domain": "-odd.example", "confirmed_at": at("2026-11-21", 22)}),
        (0, {"name": "Pending Pat", "status": "pending"}),
        (10, {"name": "Flagged Fay", "flag": "burst"}),
        (11, {"name": "Invalidated Ivo", "invalidation": invalidation}),
    ]  # fmt: skip
    for i, (order_key, fields) in enumerate(kinds):
        Signature.objects.create(
            letter=letter,
            email_hash=f"{i:064x}",
            order_key=order_key,
            **{"status": "confirmed", "display": "public", **fields},
        )
    Signature.objects.create(
        letter=other_letter, name="Elsewhere Eve", status="confirmed", email_hash="f" * 64
    )
    return letter


def rendered(letter, fmt, private_key=None, size=export.CHUNK) -> str:
    return "".join(export.export(letter, fmt, private_key, size))


# The rows of `signed`, in order, as an export without a key shows them.
PLAIN = [
    ("Ada Lovelace", "Analytical Society", "Maths", 'She said "yes",\nthen left', "public", "",
     "2026-03-04", "", "", ""),
    ('=HYPERLINK("http://x")', "+1 Org", "-dept", "@mention", "public", "example.org",
     "2026-03-04", "", "", ""),
    ("\tTabbed", "\rReturn", "", "plain, with a comma", "public", "", "", "", "", ""),
    ("", "", "Physics", "", "hidden", "", "2026-01-01", "", "", ""),
    ("", "", "", "", "hidden", "example.org", "2025-12-31", "", "", ""),
    ("", "", "Law", "", "hidden", "", "2025-06-30", "", "", ""),
    ("", "", "", "", "count", "example.org", "2025-07-01", "", "", ""),
    ("Zoë 李", " =not first", 'R&D; "Labs"', "-", "public", "", "2024-02-29", "", "", ""),
    ("=", "@", "+", "--", "public", "-odd.example", "2026-11-21", "", "", ""),
]  # fmt: skip
# With the organizer's key: the hidden signer sealed to it is read, the other one is not.
OPENED = [
    *PLAIN[:3],
    (
        "Hidden Hana",
        "=cmd|' /C calc'!A0",
        "Physics",
        "Ça va",
        "hidden",
        "",
        "2026-01-01",
        "",
        "",
        "",
    ),
    ("(not sealed to this key)", "", "", "", "hidden", "example.org", "2025-12-31", "", "", ""),
    *PLAIN[5:],
]
CSV_HEADER = (
    "name,affiliation,department,comment,display,verified_domain,confirmed_on,"
    "forge,forge_username,forge_fingerprint\r\n"
)
CSV_PLAIN = [
    CSV_HEADER,
    'Ada Lovelace,Analytical Society,Maths,"She said ""yes"",\nthen left",'
    "public,,2026-03-04,,,\r\n",
    '"\'=HYPERLINK(""http://x"")",\'+1 Org,\'-dept,\'@mention,public,example.org,2026-03-04,,,\r\n',
    '\'\tTabbed,"\'\rReturn",,"plain, with a comma",public,,,,,\r\n',
    ",,Physics,,hidden,,2026-01-01,,,\r\n",
    ",,,,hidden,example.org,2025-12-31,,,\r\n",
    ",,Law,,hidden,,2025-06-30,,,\r\n",
    ",,,,count,example.org,2025-07-01,,,\r\n",
    'Zoë 李, =not first,"R&D; ""Labs""",\'-,public,,2024-02-29,,,\r\n',
    "'=,'@,'+,'--,public,'-odd.example,2026-11-21,,,\r\n",
]
CSV_OPENED = [
    *CSV_PLAIN[:4],
    "Hidden Hana,'=cmd|' /C calc'!A0,Physics,Ça va,hidden,,2026-01-01,,,\r\n",
    "(not sealed to this key),,,,hidden,example.org,2025-12-31,,,\r\n",
    *CSV_PLAIN[6:],
]


def json_text(slug: str, rows: list[tuple]) -> str:
    return (
        '{"letter": "' + slug + '", "signatures": ['
        + ",".join(
            "\n" + json.dumps(dict(zip(export.COLUMNS, row, strict=True)), ensure_ascii=False)
            for row in rows
        )
        + "\n]}\n"
    )  # fmt: skip


@pytest.mark.parametrize("size", [export.CHUNK, 4, 1])
def test_the_csv_export_is_exactly_these_bytes(signed, keys, size):
    assert rendered(signed, "csv", size=size) == "".join(CSV_PLAIN)
    assert rendered(signed, "csv", keys[0], size=size) == "".join(CSV_OPENED)


@pytest.mark.parametrize("size", [export.CHUNK, 4, 1])
def test_the_json_export_is_exactly_these_bytes(signed, keys, size):
    assert rendered(signed, "json", size=size) == json_text("clean-air", PLAIN)
    assert rendered(signed, "json", keys[0], size=size) == json_text("clean-air", OPENED)
    assert [tuple(row.values()) for row in json.loads(rendered(signed, "json"))["signatures"]] == (
        PLAIN
    )


def test_the_csv_reads_back_as_the_rows_with_formulas_defused(signed):
    read = [tuple(row) for row in csv.reader(io.StringIO(rendered(signed, "csv"), newline=""))]
    assert read[0] == tuple(export.COLUMNS)
    assert read[1:] == [
        tuple("'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") and i not in (4, 6) else v
              for i, v in enumerate(row))
        for row in PLAIN
    ]  # fmt: skip


def test_a_letter_without_signatures_exports_the_header_or_an_empty_list(letter):
    assert rendered(letter, "csv") == CSV_HEADER
    assert rendered(letter, "json") == '{"letter": "clean-air", "signatures": [\n]}\n'
    assert json.loads(rendered(letter, "json")) == {"letter": "clean-air", "signatures": []}


def test_an_unknown_format_is_refused(letter):
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        export.export(letter, "xml")
