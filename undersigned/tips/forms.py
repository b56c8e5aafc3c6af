from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from undersigned.lib import codenames
from undersigned.lib.text import reject_control_characters
from undersigned.tips.services import MAX_MESSAGE


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class TipForm(forms.Form):
    message = forms.CharField(
        label="Your message",
        max_length=MAX_MESSAGE,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "autocomplete": "off"}),
        error_messages={"required": "Write a message."},
    )
    # The files are read by the upload handler (``uploads``), never through this field: it is
    # here for the input and its errors. (Its name hides the form's ``files`` attribute from
    # the type checker only: Django's metaclass takes fields out of the class.)
    files = forms.Field(  # type: ignore[assignment]
        required=False, label="Files (optional)", widget=MultipleFileInput
    )

    def clean_message(self):
        value = self.cleaned_data["message"]
        if not value.strip():
            raise ValidationError("Write a message.")
        reject_control_characters(value, multiline=True)
        return value

    def clean_files(self):
        return None


class CodenameForm(forms.Form):
    codename = forms.CharField(
        label="Your codename",
        max_length=400,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
        error_messages={"required": "Type the codename you were given."},
    )

    def clean_codename(self):
        try:
            return codenames.normalize(self.cleaned_data["codename"])
        except codenames.CodenameError as exc:
            raise ValidationError(str(exc)) from None
