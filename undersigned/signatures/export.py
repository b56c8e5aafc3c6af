"""Streamed exports of a letter's confirmed signatures, in constant memory: rows come from a
server-side cursor (``iterator``) and leave as soon as they are formatted."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.signatures.models import Signature

COLUMNS = [
    "name",
    "affiliation",
    "department",
    "comment",
    "display",
    "verified_domain",
    "confirmed_on",
]
FORMATS = ("csv", "json")
UNREADABLE = "(not sealed to this key)"


def rows(letter: Letter, private_key: bytes | None = None) -> Iterator[tuple[str, ...]]:
    """Confirmed signatures as tuples in ``COLUMNS`` order.

    Hidden signers' name, affiliation and comment are sealed to the organizers' keys; with
    ``private_key`` (an organizer's, opened from their key file) they are decrypted here,
    otherwise they are left empty. Count-only signers have none."""
    queryset = (
        Signature.objects.counted()
        .filter(letter=letter)
        .order_by("order_key")
        .values_list(
            "name",
            "affiliation",
            "department",
            "comment",
            "display",
            "verified_domain",
            "confirmed_at",
            "sealed",
        )
    )
    for name, affiliation, department, comment, *rest, confirmed_at, sealed in queryset.iterator(
        chunk_size=5000
    ):
        if sealed and private_key is not None:
            try:
                opened = sealing.unseal(sealed, private_key)
            except sealing.SealingError:  # sealed before this key was added, or to others
                opened = {"name": UNREADABLE, "affiliation": "", "comment": ""}
            name, affiliation, comment = opened["name"], opened["affiliation"], opened["comment"]
        # The day only: an exact time could tie a signature to a person's whereabouts.
        day = confirmed_at.date().isoformat() if confirmed_at else ""
        yield (name, affiliation, department, comment, *rest, day)


class _Line:
    """A file-like object for ``csv.writer`` that hands back what was written."""

    def write(self, value: str) -> str:
        return value


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells that start with these as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_csv(letter: Letter, private_key: bytes | None = None) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in rows(letter, private_key):
        yield writer.writerow([_csv_safe(value) for value in row])


def as_json(letter: Letter, private_key: bytes | None = None) -> Iterator[str]:
    yield '{"letter": ' + json.dumps(letter.slug) + ', "signatures": ['
    separator = "\n"
    for row in rows(letter, private_key):
        yield separator + json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"


def export(letter: Letter, fmt: str, private_key: bytes | None = None) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use csv or json")
    return (as_csv if fmt == "csv" else as_json)(letter, private_key)
