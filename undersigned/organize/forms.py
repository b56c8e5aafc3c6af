"""Forms of the organizer workspace: an update, a demand and its status, a response with its
sources, an invitation."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from undersigned.letters.models import Demand, Organizer
from undersigned.lib.text import reject_control_characters


class _Text(forms.Form):
    # The workspace shows these forms on one page with the letter's: ids of their own.
    ids = "%s"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", self.ids)
        super().__init__(*args, **kwargs)

    def _text(self, name: str, multiline: bool = False) -> str:
        value = self.cleaned_data.get(name, "")
        reject_control_characters(value, multiline=multiline)
        return value.replace("\r\n", "\n").strip()


class UpdateForm(_Text):
    ids = "update-%s"
    body = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Update",
        help_text="Markdown. Shown under the letter, dated, newest first; never part of what "
        "people signed.",
    )
    mail = forms.BooleanField(
        required=False, label="Also mail it to the signers who asked for updates"
    )

    def clean_body(self):
        return self._text("body", multiline=True)


class DemandForm(_Text):
    ids = "demand-%s"
    text = forms.CharField(
        max_length=500, label="A demand", help_text="e.g. 'Cancel the contract'."
    )

    def clean_text(self):
        return self._text("text")


class DemandStatusForm(_Text):
    ids = "status-%s"
    demand = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=Demand.Status.choices)
    note = forms.CharField(
        max_length=5_000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note"
    )
    mail = forms.BooleanField(required=False, label="Mail the signers who asked for updates")

    def clean_note(self):
        return self._text("note", multiline=True)


def _urls(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ResponseForm(_Text):
    ids = "response-%s"
    by = forms.CharField(max_length=200, label="Who said it", help_text="A person or a body.")
    role = forms.CharField(max_length=200, required=False, help_text="e.g. 'Chief executive'.")
    date = forms.DateField(label="When it was said", widget=forms.DateInput(attrs={"type": "date"}))
    quote = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="The quote, or a summary",
        help_text="Markdown.",
    )
    sources = forms.CharField(
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Links where readers can check it, one per line (at least one).",
    )
    note = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Your note beside it (optional)",
        help_text="e.g. what it contradicts. Markdown.",
    )
    note_sources = forms.CharField(
        max_length=5_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Sources of your note",
        help_text="One link per line.",
    )
    mail = forms.BooleanField(required=False, label="Mail the signers who asked for updates")

    def clean_by(self):
        return self._text("by")

    def clean_role(self):
        return self._text("role")

    def clean_quote(self):
        return self._text("quote", multiline=True)

    def clean_note(self):
        return self._text("note", multiline=True)

    def clean_date(self):
        value = self.cleaned_data["date"]
        if value > timezone.now().date():
            raise ValidationError("A response cannot be dated in the future.")
        return value

    def clean_sources(self):
        urls = _urls(self._text("sources", multiline=True))
        if not urls:
            raise ValidationError("Give at least one link, so that readers can check it.")
        return urls

    def clean_note_sources(self):
        return _urls(self._text("note_sources", multiline=True))


class InvitationForm(_Text):
    ids = "invite-%s"
    email = forms.EmailField(max_length=254, label="Their email address")
    role = forms.ChoiceField(
        choices=Organizer.Role.choices, initial=Organizer.Role.EDITOR, label="Their role"
    )
