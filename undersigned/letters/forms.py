from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from undersigned.letters.models import Letter
from undersigned.lib.emails import domain_to_ascii
from undersigned.lib.text import reject_control_characters
from undersigned.lib.times import in_zone, zone_names

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
            "goal",
            "extra_milestones",
            "public_after_choices",
            "organized_by",
            "visibility",
            "deadline",
            "time_zone",
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
        help_texts = {
            "slug": "The letter's address: /l/<slug>/. Letters, digits and hyphens. If you change "
            "it later, the old address keeps leading here."
        }

    # What the create and edit pages show together, essentials first.
    GROUPS = (
        ("The letter", ("title", "addressed_to", "body", "slug")),
        ("On the letter's page", ("organized_by", "goal", "extra_milestones")),
        (
            "Who signs, and how they are verified",
            (
                "visibility",
                "organization",
                "domains",
                "include_subdomains",
                "public_after_choices",
            ),
        ),
        ("When signing closes", ("deadline", "time_zone")),
        ("Privacy and retention", ("discreet_mail", "hide_count", "purge_after_days")),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purge_after_days"].required = False
        self.fields["time_zone"] = forms.ChoiceField(
            choices=[(name, name.replace("_", " ")) for name in zone_names()],
            initial="UTC",
            required=False,
            label="Time zone of the deadline",
            help_text=self.Meta.model._meta.get_field("time_zone").help_text,
        )
        self.fields[
            "deadline"
        ].help_text = "Signing closes by itself at this time, in the time zone below (optional)."
        if self.instance.deadline and not self.is_bound:
            # Shown as the organizers' clocks read it, not in the server's zone.
            self.initial["deadline"] = self.instance.local_deadline.replace(tzinfo=None)

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]

    def clean_time_zone(self):
        return self.cleaned_data.get("time_zone") or self.instance.time_zone or "UTC"

    def clean_deadline(self):
        # The field read it in the server's zone; what was typed is the wall-clock time.
        value = self.cleaned_data.get("deadline")
        return value and timezone.localtime(value).replace(tzinfo=None)

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
        wall, zone_name = data.get("deadline"), data.get("time_zone") or "UTC"
        if wall is not None:
            moment = in_zone(wall, zone_name)
            if moment is None:
                self.add_error(
                    "deadline",
                    f"Clocks in {zone_name} skip that hour (summer time begins): choose another.",
                )
            elif moment <= timezone.now() and moment != self.instance.deadline:
                self.add_error("deadline", "That time has passed: give one in the future.")
            else:
                data["deadline"] = moment
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
