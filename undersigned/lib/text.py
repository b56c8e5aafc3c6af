"""Validation helpers for text that people type."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

MULTILINE_CONTROL = {"\n", "\r", "\t"}


def reject_control_characters(value: str, *, multiline: bool = False) -> None:
    for char in value:
        if multiline and char in MULTILINE_CONTROL:
            continue
        category = unicodedata.category(char)
        if category in {"Cc", "Cs"} or (category == "Cf" and char not in {"\u200d", "\u200c"}):
            raise ValidationError(
                "Remove the invisible control character (U+%(code)04X) from this field.",
                code="control_character",
                params={"code": ord(char)},
            )
