"""One-statement inserts for the hot paths (signing, confirming), where building a statement
through the ORM costs several times more than running it.

Values go through each field's own conversion (``get_db_prep_save``) and missing fields get
the model's defaults, so a row is stored exactly as ``Model.objects.create`` would store it;
but no signals are sent and nothing is validated: pass validated values."""

from __future__ import annotations

from functools import cache
from typing import cast

from django.db import connection, models


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    # A primary key the database numbers is left to it; one with a default (random) is not.
    return tuple(
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField))
    )


@cache
def _attnames(model: type[models.Model]) -> frozenset[str]:
    return frozenset(field.attname for field in _fields(model))


@cache
def _plain(model: type[models.Model]) -> tuple[bool, ...]:
    """Per field: whether a str, int or None is stored as it is (text and integer columns),
    so that the field's conversion can be skipped for such values."""
    from undersigned.db.fields import VaultedTextField

    kinds = (models.CharField, models.TextField, models.IntegerField, models.BigIntegerField)
    converted = (models.JSONField, VaultedTextField)
    return tuple(
        isinstance(field, kinds) and not isinstance(field, converted) for field in _fields(model)
    )


_PLAIN_VALUES = (str, int, type(None))


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of ``model``'s field ``name``."""
    field = cast(models.Field, model._meta.get_field(name))
    return connection.ops.quote_name(field.column)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@cache
def _statement(model, tail: str) -> str:
    names = [field.attname for field in _fields(model)]
    columns = ", ".join(column(model, name) for name in names)
    marks = ", ".join(["%s"] * len(names))
    return f"INSERT INTO {table(model)} ({columns}) VALUES ({marks}){tail}"  # noqa: S608  (names from the model)


def insert(model: type[models.Model], values: dict, tail: str = "") -> tuple | None:
    """Insert one row of ``model``; ``tail`` is SQL after VALUES (an ON CONFLICT clause, a
    RETURNING list): with RETURNING, the returned row."""
    unknown = values.keys() - _attnames(model)
    if unknown:  # a programming error: say which
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    params = []
    for field, plain in zip(_fields(model), _plain(model), strict=True):
        value = values[field.attname] if field.attname in values else field.get_default()
        if not (plain and type(value) in _PLAIN_VALUES):
            value = field.get_db_prep_save(value, connection)
        params.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, tail), params)
        return cursor.fetchone() if "RETURNING" in tail else None
