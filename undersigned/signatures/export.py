"""Streamed exports of a letter's confirmed signatures, in constant memory: rows come from a
server-side cursor (``iterator``) a chunk at a time, and each chunk leaves as one string as
soon as it is formatted.

A million rows pass through here, so the work per row is kept small: the database formats
the day of ``confirmed_at`` (no datetime is made only to print its date), the sealed fields
are fetched only when there is a key to open them, and rows are written a chunk at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from itertools import islice

from django.db.models import CharField, Func, TextField

from undersigned.db.fields import VaultedTextField
from undersigned.letters.models import Letter
from undersigned.lib import sealing, vault
from undersigned.signatures.models import Signature

COLUMNS = [
    "name",
    "affiliation",
    "department",
    "comment",
    "display",
    "verified_domain",
    "confirmed_on",
    # A code-forge account proven by an SSH signature: which forge, the user name and the
    # fingerprint of the key that signed (a hidden signer's only with a key that opens them).
    "forge",
    "forge_username",
    "forge_fingerprint",
]
FORMATS = ("csv", "json")
UNREADABLE = "(not sealed to this key)"
CHUNK = 5000  # rows fetched and formatted at a time

Row = tuple[str, str, str, str, str, str, str, str, str, str]
DAY = COLUMNS.index("confirmed_on")


class _Day(Func):
    """The UTC day of a datetime column as ``YYYY-MM-DD``, or "" for NULL."""

    output_field = CharField()
    templates = {
        # Django keeps datetimes in SQLite as UTC text: 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        "sqlite": "COALESCE(substr(%(expressions)s, 1, 10), '')",
        "postgresql": "COALESCE(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '')",
    }

    def as_sql(self, compiler, connection, function=None, template=None, arg_joiner=None, **extra):
        template = self.templates[connection.vendor]
        return super().as_sql(compiler, connection, function, template, arg_joiner, **extra)


class _Locked(Func):
    """A column encrypted at rest (``VaultedTextField``) as stored: read so, it skips the
    field's converter, and ``chunks`` decrypts a chunk's values with one ``vault.opener``."""

    template = "%(expressions)s"
    output_field = TextField()


VAULTED = [
    i
    for i, name in enumerate(COLUMNS)
    if i != DAY and isinstance(Signature._meta.get_field(name), VaultedTextField)
]


def chunks(
    letter: Letter, private_key: bytes | None = None, size: int = CHUNK
) -> Iterator[list[Row]]:
    """Confirmed signatures as lists of up to ``size`` tuples in ``COLUMNS`` order.

    Hidden signers' name, affiliation and comment are sealed to the organizers' keys; with
    ``private_key`` (an organizer's, opened from their key file) they are decrypted here,
    otherwise they are left empty. Count-only signers have none."""
    # The day only: an exact time could tie a signature to a person's whereabouts.
    fields: list = [_Locked(name) if i in VAULTED else name for i, name in enumerate(COLUMNS)]
    fields[DAY] = _Day("confirmed_at")
    queryset = Signature.objects.counted().filter(letter=letter).order_by("order_key")
    unlock = vault.opener()
    if private_key is None:  # the sealed fields cannot be read: not even fetched
        for chunk in _batched(queryset.values_list(*fields).iterator(chunk_size=size), size):
            yield [_unlocked(row, unlock) for row in chunk]
        return
    rows = queryset.values_list(*fields, "sealed").iterator(chunk_size=size)
    for chunk in _batched(rows, size):
        yield [_opened(_unlocked(row, unlock), private_key) for row in chunk]


def _unlocked(row: tuple, unlock: Callable[[str], str]) -> tuple:
    values = list(row)
    for i in VAULTED:
        if values[i]:
            values[i] = unlock(values[i])
    return tuple(values)


def _batched(iterator: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(iterator, size)):
        yield chunk


def _opened(row: tuple, private_key: bytes) -> Row:
    *shown, day, forge, user, print_, sealed = row
    name, affiliation, department, comment, display, verified = shown
    if sealed:
        try:
            opened = sealing.unseal(sealed, private_key)
        except sealing.SealingError:  # sealed before this key was added, or to others
            opened = {"name": UNREADABLE, "affiliation": "", "comment": ""}
        name, affiliation, comment = opened["name"], opened["affiliation"], opened["comment"]
        user = opened.get("forge_account", "").rpartition("/")[2] or user
        print_ = opened.get("forge_fingerprint", print_)
    return (name, affiliation, department, comment, display, verified, day, forge, user, print_)


# Spreadsheets run cells that start with these as formulas.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def as_csv(letter: Letter, private_key: bytes | None = None, size: int = CHUNK) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for chunk in chunks(letter, private_key, size):
        # What people typed, and the organizers' domains, are escaped; `display` is one of
        # its choices and the day is written by the database.
        safe = _csv_safe
        writer.writerows(
            (safe(n), safe(a), safe(d), safe(c), display, safe(v), day, forge, user, print_)
            for n, a, d, c, display, v, day, forge, user, print_ in chunk
        )
        yield _take(buffer)
    if buffer.tell():  # no signatures: the header alone
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


_to_json = json.JSONEncoder(ensure_ascii=False).encode


def as_json(letter: Letter, private_key: bytes | None = None, size: int = CHUNK) -> Iterator[str]:
    yield '{"letter": ' + json.dumps(letter.slug) + ', "signatures": ['
    separator = "\n"
    for chunk in chunks(letter, private_key, size):
        yield separator + ",\n".join(
            _to_json(dict(zip(COLUMNS, row, strict=True))) for row in chunk
        )
        separator = ",\n"
    yield "\n]}\n"


def export(
    letter: Letter, fmt: str, private_key: bytes | None = None, size: int = CHUNK
) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use csv or json")
    return (as_csv if fmt == "csv" else as_json)(letter, private_key, size)
