from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from undersigned.letters.models import Letter
from undersigned.lib.text import reject_control_characters

RESERVED_SLUGS = {"new", "admin", "api", "static"}


class LetterForm(forms.ModelForm):
    class Meta:
        model = Letter
        fields = ["title", "slug", "addressed_to", "body", "visibility", "deadline"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 16}),
            "deadline": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }
        help_texts = {"slug": "The letter's address: /l/<slug>/. Letters, digits and hyphens."}

    def clean_title(self):
        value = self.cleaned_data["title"]
        reject_control_characters(value)
        return value

    def clean_addressed_to(self):
        value = self.cleaned_data["addressed_to"]
        reject_control_characters(value)
        return value

    def clean_body(self):
        value = self.cleaned_data["body"]
        reject_control_characters(value, multiline=True)
        return value.replace("\r\n", "\n")

    def clean_slug(self):
        value = self.cleaned_data["slug"].lower()
        if value in RESERVED_SLUGS:
            raise ValidationError("This address is reserved; choose another.")
        return value
