"""Streamed exports of a letter's confirmed signatures, in constant memory: rows come from a
server-side cursor (``iterator``) and leave as soon as they are formatted."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from undersigned.letters.models import Letter
from undersigned.signatures.models import Signature

COLUMNS = ["name", "affiliation", "department", "comment", "display", "confirmed_on"]
FORMATS = ("csv", "json")


def rows(letter: Letter) -> Iterator[tuple[str, ...]]:
    """Confirmed signatures as tuples in ``COLUMNS`` order."""
    queryset = (
        Signature.objects.confirmed()
        .filter(letter=letter)
        .order_by("order_key")
        .values_list("name", "affiliation", "department", "comment", "display", "confirmed_at")
    )
    for *fields, confirmed_at in queryset.iterator(chunk_size=5000):
        # The day only: an exact time could tie a signature to a person's whereabouts.
        yield (*fields, confirmed_at.date().isoformat() if confirmed_at else "")


class _Line:
    """A file-like object for ``csv.writer`` that hands back what was written."""

    def write(self, value: str) -> str:
        return value


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells that start with these as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_csv(letter: Letter) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in rows(letter):
        yield writer.writerow([_csv_safe(value) for value in row])


def as_json(letter: Letter) -> Iterator[str]:
    yield '{"letter": ' + json.dumps(letter.slug) + ', "signatures": ['
    separator = "\n"
    for row in rows(letter):
        yield separator + json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"


def export(letter: Letter, fmt: str) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use csv or json")
    return as_csv(letter) if fmt == "csv" else as_json(letter)
