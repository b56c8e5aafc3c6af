"""Validation helpers for text that people type."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

MULTILINE_CONTROL = {"\n", "\r", "\t"}


def reject_control_characters(value: str, *, multiline: bool = False) -> None:
    # Nearly all text: no control, format or surrogate character is printable, so a printable
    # value without U+FFFD passes without a look at each character.
    if value.isprintable() and "\ufffd" not in value:
        return
    for char in value:
        if multiline and char in MULTILINE_CONTROL:
            continue
        if char == "\ufffd":
            raise ValidationError(
                "This field holds a character that could not be read (U+FFFD): the text was "
                "probably sent in an encoding other than UTF-8. Type it again.",
                code="unreadable_character",
            )
        category = unicodedata.category(char)
        if category in {"Cc", "Cs"} or (category == "Cf" and char not in {"\u200d", "\u200c"}):
            raise ValidationError(
                "Remove the invisible control character (U+%(code)04X) from this field.",
                code="control_character",
                params={"code": ord(char)},
            )
