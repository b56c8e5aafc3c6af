from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from undersigned.letters.models import Letter
from undersigned.lib.emails import domain_to_ascii
from undersigned.lib.text import reject_control_characters

DOMAIN = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]"
)

RESERVED_SLUGS = {"new", "admin", "api", "static"}


class LetterForm(forms.ModelForm):
    class Meta:
        model = Letter
        fields = [
            "title",
            "slug",
            "addressed_to",
            "body",
            "visibility",
            "deadline",
            "organization",
            "domains",
            "include_subdomains",
            "discreet_mail",
            "hide_count",
            "purge_after_days",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 16}),
            "deadline": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }
        help_texts = {"slug": "The letter's address: /l/<slug>/. Letters, digits and hyphens."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purge_after_days"].required = False

    def clean_purge_after_days(self):
        value = self.cleaned_data.get("purge_after_days")
        return Letter._meta.get_field("purge_after_days").default if value is None else value

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

    def clean_organization(self):
        value = self.cleaned_data["organization"]
        reject_control_characters(value)
        return value

    def clean_domains(self):
        domains = []
        for item in self.cleaned_data["domains"].replace(",", " ").split():
            item = item.strip().lstrip("@").rstrip(".")
            try:
                ascii_domain = domain_to_ascii(item)
            except UnicodeError:
                ascii_domain = ""
            if not DOMAIN.fullmatch(ascii_domain):
                raise ValidationError(
                    "%(domain)s is not a domain name such as example.com.",
                    params={"domain": item},
                )
            if ascii_domain not in domains:
                domains.append(ascii_domain)
        return " ".join(domains)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("visibility") == Letter.Visibility.MEMBERS and not data.get("domains"):
            self.add_error(
                "domains", "A members-only letter needs the organization's email domains."
            )
        return data

    def clean_slug(self):
        value = self.cleaned_data["slug"].lower()
        if value in RESERVED_SLUGS:
            raise ValidationError("This address is reserved; choose another.")
        return value
