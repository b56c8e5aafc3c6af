"""Numbers as a headline reads them: "1,234", not "1234"."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def grouped(value) -> str:
    """An integer with thousands separators; anything else as it is."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)
