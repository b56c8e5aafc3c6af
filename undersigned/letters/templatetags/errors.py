"""The error summary of a form sent back with mistakes (``templates/_errors.html``)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def fields_in_error(form) -> list[dict]:
    """Each field with an error: its label, its first message, and the id of the control a
    link should move focus to (the first choice of a group of radios; none for a hidden
    field, which has nothing to focus)."""
    found = []
    for field in form:
        if not field.errors:
            continue
        target = ""
        if not field.is_hidden:
            grouped = field.widget_type in ("radioselect", "checkboxselectmultiple")
            target = f"{field.auto_id}_0" if grouped else field.auto_id
        found.append({"label": field.label, "message": field.errors[0], "target": target})
    return found
