"""The commitment form (the signing form's fields and checks, reused) and the form that
checks a new pledge (for the command, and any page that creates one)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from undersigned.letters.forms import DOMAIN, RESERVED_SLUGS
from undersigned.letters.models.letter import PUBLIC_AFTER_CHOICES
from undersigned.lib.emails import domain_to_ascii
from undersigned.lib.text import reject_control_characters
from undersigned.pledges.models import Commitment, Pledge
from undersigned.pledges.services import MAX_THRESHOLD
from undersigned.signatures.forms import (
    DisplayForm,
    ForgeSignatureForm,
    PublicAfterField,
    SignatureForm,
    _SharedFields,
    clean_public_after,
)
from undersigned.signatures.services import SignatureData


def commitment_public_after(pledge: Pledge | None) -> PublicAfterField:
    """N of a commitment's `threshold`: the pledge's choices (``Pledge.public_after_options``)."""
    return PublicAfterField(
        pledge.public_after_options() if pledge else PUBLIC_AFTER_CHOICES,
        unit="commitments",
        label="Show my name once this many have committed",
        help_text="With “Hide my name until enough people have committed”: counted, not named, "
        "until the pledge is met and this many have committed; your name is kept only "
        "encrypted until then.",
    )


def offer_commitment_public_after(form: forms.Form, pledge: Pledge | None) -> None:
    form.fields["public_after"] = commitment_public_after(pledge)  # the class's are shared


class CommitmentForm(SignatureForm):
    """The signing form without what only letters have (the version, update mails), and the
    display choices of a commitment, with the pledge's choices of N for `threshold`."""

    def __init__(self, *args, pledge: Pledge | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        offer_commitment_public_after(self, pledge)

    display = forms.ChoiceField(
        choices=Commitment.Display.choices,
        initial=Commitment.Display.PUBLIC,
        required=False,
        widget=forms.RadioSelect,
        label="How to show your commitment once the pledge is met",
    )

    def clean_display(self):
        return self.cleaned_data.get("display") or Commitment.Display.PUBLIC

    def commitment_data(self) -> SignatureData:
        data = self.cleaned_data
        return SignatureData(
            name=data["name"],
            email=data["email"],
            affiliation=data["affiliation"],
            department=data["department"],
            comment=data["comment"],
            display=data["display"],
            public_after=data.get("public_after"),
        )


# The signing form's fields that a commitment has, by name: a field added to signing later
# (a version, update mails, a forge proof) joins only when the pledge verbs take it.
FIELDS = (
    "name",
    "email",
    "affiliation",
    "department",
    "comment",
    "display",
    "public_after",
    "website",
)
CommitmentForm.base_fields = _SharedFields(
    {name: CommitmentForm.base_fields[name] for name in FIELDS}
)


class ForgeCommitmentForm(ForgeSignatureForm):
    """Committing as a code-forge account: the signed challenge and a commitment's fields. No
    address: the proof confirms it (a forge-only committer reads the outcome on the pledge's
    page, its feed or their private page, not in mail)."""

    def __init__(self, *args, pledge: Pledge | None = None, **kwargs):
        forms.Form.__init__(self, *args, **kwargs)  # not signing's: no address to describe
        offer_commitment_public_after(self, pledge)

    def clean(self):
        forms.Form.clean(self)
        clean_public_after(self)
        return self.cleaned_data

    def clean_display(self):
        return self.cleaned_data.get("display") or Commitment.Display.PUBLIC

    def signature_data(self) -> SignatureData:
        data = self.cleaned_data
        return SignatureData(
            name=data["name"],
            email="",
            affiliation=data["affiliation"],
            department=data["department"],
            comment=data["comment"],
            display=data["display"],
            public_after=data.get("public_after"),
        )


FORGE_FIELDS = ("ssh_signature", "forge", "forge_username", "challenge")
ForgeCommitmentForm.base_fields = _SharedFields(
    {
        name: (CommitmentForm.base_fields if name == "display" else ForgeSignatureForm.base_fields)[
            name
        ]
        for name in (FORGE_FIELDS[0], *(f for f in FIELDS if f != "email"), *FORGE_FIELDS[1:])
    }
)


class PledgeForm(forms.Form):
    slug = forms.SlugField(max_length=80, help_text="The pledge's address: /p/<slug>/.")
    action = forms.CharField(
        max_length=300, label="I will…", help_text="What each committer will do."
    )
    threshold = forms.IntegerField(
        min_value=1, max_value=MAX_THRESHOLD, label="If this many people commit"
    )
    deadline = forms.DateField(
        input_formats=["%Y-%m-%d"],
        label="By",
        help_text="Commitments close at the end of this day (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    domains = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Optional: domains that verify committers, besides the letter's.",
    )

    def clean_slug(self):
        slug = self.cleaned_data["slug"].lower()
        if slug in RESERVED_SLUGS:
            raise ValidationError("This slug is reserved: choose another.")
        if Pledge.objects.filter(slug=slug).exists():
            raise ValidationError("There is a pledge with this slug already: choose another.")
        return slug

    def clean_action(self):
        value = " ".join(self.cleaned_data["action"].split())
        reject_control_characters(value)
        if not value:
            raise ValidationError("Say what each committer will do.")
        return value

    def clean_deadline(self):
        value = self.cleaned_data["deadline"]
        if value < timezone.now().date():
            raise ValidationError("The deadline is in the past: give today or a later day.")
        return value

    def clean_domains(self):
        domains: list[str] = []
        for item in self.cleaned_data["domains"].replace(",", " ").split():
            item = item.strip().lstrip("@").rstrip(".")
            try:
                ascii_domain = domain_to_ascii(item)
            except UnicodeError:
                ascii_domain = ""
            if not DOMAIN.fullmatch(ascii_domain):
                raise ValidationError(
                    "%(domain)s is not a domain name such as example.com.", params={"domain": item}
                )
            if ascii_domain not in domains:
                domains.append(ascii_domain)
        return domains


class AnnouncementForm(forms.Form):
    subject = forms.CharField(max_length=200)
    body = forms.CharField(
        max_length=20_000, error_messages={"required": "Write the announcement: the file is empty."}
    )

    def clean_subject(self):
        value = " ".join(self.cleaned_data["subject"].split())
        reject_control_characters(value)
        return value

    def clean_body(self):
        value = self.cleaned_data["body"].replace("\r\n", "\n").strip()
        reject_control_characters(value, multiline=True)
        if not value:
            raise ValidationError("Write the announcement: the file is empty.")
        return value


class WorkspacePledgeForm(PledgeForm):
    """A pledge attached to the letter whose workspace this is."""

    verified_only = forms.BooleanField(
        required=False,
        label="Only verified people may commit",
        help_text="At the letter's organization domains, or at the domains below.",
    )
    publish = forms.BooleanField(required=False, label="Publish it now")

    field_order = ["action", "threshold", "deadline", "slug", "verified_only", "domains"]


class CommitmentDisplayForm(DisplayForm):
    """Change how a commitment is shown, on the committer's private page."""

    display = forms.ChoiceField(
        choices=Commitment.Display.choices, widget=forms.RadioSelect, label="Show my commitment as"
    )

    def __init__(self, *args, pledge: Pledge | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        offer_commitment_public_after(self, pledge)
