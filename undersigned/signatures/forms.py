from __future__ import annotations

import unicodedata
from dataclasses import replace

from django import forms
from django.core.exceptions import ValidationError

from undersigned.lib import sshkeys
from undersigned.lib.emails import ascii_address
from undersigned.lib.text import reject_control_characters
from undersigned.signatures import forge
from undersigned.signatures.models import Signature
from undersigned.signatures.services import SignatureData


class _SharedFields(dict):
    """A form class's fields, which each form of the class shares instead of deep-copying them
    as Django does: nothing changes them per form (data and errors live on the form), and the
    copy was an eighth of the form's time in a signing request."""

    def __deepcopy__(self, memo):
        return dict(self)


def _offered(numbers) -> str:
    shown = [f"{n:,}" for n in numbers]
    return ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]


class PublicAfterField(forms.TypedChoiceField):
    """N of the display choice `threshold`: one of ``numbers`` (the short list,
    ``Signature.PUBLIC_AFTER_CHOICES``, unless the letter's organizers added their own)."""

    def __init__(self, numbers=Signature.PUBLIC_AFTER_CHOICES, unit="signatures", **kwargs):
        self.numbers = tuple(numbers)
        self.unit = unit  # what is counted (a pledge's form counts commitments)
        kwargs.setdefault("label", "Show my name once this many have signed")
        kwargs.setdefault(
            "help_text",
            "With “Hide my name until enough people have signed”: until then you are "
            "listed as “name withheld”, and your name is kept only encrypted.",
        )
        super().__init__(
            choices=[("", "(only with the choice above)")]
            + [(str(n), f"{n:,} {unit}") for n in self.numbers],
            coerce=int,
            empty_value=None,
            required=False,
            error_messages={"invalid_choice": f"Choose one of {_offered(self.numbers)} {unit}."},
            **kwargs,
        )


def offer_public_after(form: forms.Form, numbers) -> None:
    """Give ``form`` a letter's own choices of N (a field of its own: the class's are shared)."""
    if numbers is not None and tuple(numbers) != Signature.PUBLIC_AFTER_CHOICES:
        form.fields["public_after"] = PublicAfterField(numbers)


def clean_public_after(form: forms.Form) -> None:
    """A form's ``public_after`` is kept only with `threshold`, which needs one."""
    data = form.cleaned_data
    if data.get("display") != Signature.Display.THRESHOLD:
        data["public_after"] = None
    elif data.get("public_after") is None and "public_after" not in form.errors:
        field = form.fields["public_after"]
        form.add_error(
            "public_after",
            f"Choose after how many {field.unit} your name is shown: "  # type: ignore[attr-defined]
            f"{_offered(field.numbers)}.",  # type: ignore[attr-defined]
        )


class SignatureForm(forms.Form):
    """The signing form, shared by the letter page and ``POST /api/v1/…/signatures``."""

    name = forms.CharField(
        max_length=200,
        help_text="As you would like it to appear, if you choose to show it.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        max_length=254,
        help_text="We send a confirmation link here. It is never shown to anyone.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    affiliation = forms.CharField(
        max_length=200,
        required=False,
        help_text="Optional: organization, project or title.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    department = forms.CharField(max_length=100, required=False, help_text="Optional.")
    comment = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, up to 1,000 characters. Shown with your name if it is public.",
    )
    # Not required: the API's JSON may leave it out; the page always has a checked button.
    display = forms.ChoiceField(
        choices=Signature.Display.choices,
        initial=Signature.Display.PUBLIC,
        required=False,
        widget=forms.RadioSelect,
        label="How to show your signature",
    )
    public_after = PublicAfterField()
    # The version of the text the signer was shown: a signature given for an older version
    # is kept with it.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    updates = forms.BooleanField(
        required=False,
        label="Email me updates about this letter",
        help_text="Off unless you tick it. Then your address is kept, encrypted, until you "
        "unsubscribe (a link in every update) or withdraw.",
    )
    # A honeypot: hidden from people (and from screen readers); bots fill every field. A
    # filled one is accepted like any other signature, but held (not counted until released).
    website = forms.CharField(
        required=False,
        max_length=200,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, public_after_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        offer_public_after(self, public_after_choices)

    def _clean_text(self, field: str, multiline: bool = False) -> str:
        value = self.cleaned_data.get(field, "")
        reject_control_characters(value, multiline=multiline)
        return value

    def clean_name(self):
        value = self._clean_text("name")
        if not any(unicodedata.category(char)[0] in "LNPS" for char in value):
            raise ValidationError("Enter your name with at least one visible letter or digit.")
        return value

    def clean_affiliation(self):
        return self._clean_text("affiliation")

    def clean_department(self):
        return " ".join(self._clean_text("department").split())  # one spelling per group

    def clean_comment(self):
        return self._clean_text("comment", multiline=True).replace("\r\n", "\n")

    def clean_display(self):
        return self.cleaned_data.get("display") or Signature.Display.PUBLIC

    def clean(self):
        super().clean()
        clean_public_after(self)
        return self.cleaned_data

    def clean_email(self):
        value = self.cleaned_data["email"]
        reject_control_characters(value)
        local, _, domain = value.rpartition("@")
        try:
            # Mail servers need the ASCII (IDNA) form of a unicode domain.
            return ascii_address(local, domain)
        except UnicodeError:
            raise ValidationError("The domain of this email address is not valid.") from None
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def full_clean(self):
        super().full_clean()
        # Django's email check rejects non-ASCII local parts with a generic message: say why.
        raw = self.data.get("email") if hasattr(self.data, "get") else None
        if isinstance(raw, str) and "email" in self.errors and not raw.split("@")[0].isascii():
            self.errors["email"] = self.error_class(
                [
                    "Use an address whose part before the @ has only plain (ASCII) letters, "
                    "digits and punctuation: mail to other addresses may not arrive."
                ]
            )

    def signature_data(self) -> SignatureData:
        data = self.cleaned_data
        return SignatureData(
            name=data["name"],
            email=data["email"],
            affiliation=data["affiliation"],
            department=data["department"],
            comment=data["comment"],
            display=data["display"],
            version=data.get("version"),
            updates=bool(data.get("updates")),
            public_after=data.get("public_after"),
        )


SignatureForm.base_fields = _SharedFields(SignatureForm.base_fields)


class MemberSignatureForm(SignatureForm):
    """The signing form for a member of a members-only letter whose pass proved their
    address: no address to type, and no second mail."""

    def signature_data(self) -> SignatureData:
        data = self.cleaned_data
        return SignatureData(
            name=data["name"],
            email="",
            affiliation=data["affiliation"],
            department=data["department"],
            comment=data["comment"],
            display=data["display"],
            version=data.get("version"),
            public_after=data.get("public_after"),
        )


MemberSignatureForm.base_fields = _SharedFields(
    {
        name: field
        for name, field in SignatureForm.base_fields.items()
        # No address to mail updates to: the pass proved it, and it was not kept.
        if name not in ("email", "updates")
    }
)


class ForgeAccountForm(forms.Form):
    """Step one of signing as a code-forge account: which account, for its challenge."""

    forge = forms.ChoiceField(
        choices=forge.FORGE_CHOICES, widget=forms.RadioSelect, label="Your code forge"
    )
    username = forms.CharField(
        max_length=64,
        label="Your user name there",
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )

    def clean(self):
        data = super().clean() or {}
        if data.get("forge") and data.get("username"):
            try:
                data["forge"], data["username"] = forge.check_account(
                    data["forge"], data["username"]
                )
            except forge.ForgeError as exc:
                self.add_error("username", str(exc))
        return data


class ForgeSignatureForm(SignatureForm):
    """Step two: the signing form with the signed challenge; the address is optional (a
    proven account needs none), and with one, the usual confirmation mail follows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].help_text = (
            "Optional. Without one, nothing is mailed: you get a private link on the next page "
            "to keep. With one, we send a confirmation link (it is never shown)."
        )

    def clean_email(self):
        return super().clean_email() if self.cleaned_data.get("email") else ""

    def signature_data(self) -> SignatureData:
        data = super().signature_data()
        return replace(data, email=self.cleaned_data.get("email") or "")


ForgeSignatureForm.base_fields = _SharedFields(
    {
        "ssh_signature": forms.CharField(
            max_length=sshkeys.MAX_SIGNATURE_CHARS,
            label="The signature ssh-keygen printed",
            help_text="Paste all of it, from -----BEGIN SSH SIGNATURE----- to "
            "-----END SSH SIGNATURE-----.",
            widget=forms.Textarea(attrs={"rows": 7, "spellcheck": "false", "class": "mono"}),
        ),
        **SignatureForm.base_fields,
        "email": forms.EmailField(
            max_length=254,
            required=False,
            widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        ),
        "forge": forms.ChoiceField(choices=forge.FORGE_CHOICES, widget=forms.HiddenInput),
        "forge_username": forms.CharField(max_length=64, widget=forms.HiddenInput),
        "challenge": forms.CharField(max_length=500, widget=forms.HiddenInput),
    }
)


class DisplayForm(forms.Form):
    """Change how a signature is shown, on the signer's private page."""

    display = forms.ChoiceField(
        choices=Signature.Display.choices, widget=forms.RadioSelect, label="Show my signature as"
    )
    public_after = PublicAfterField()
    name = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, public_after_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        offer_public_after(self, public_after_choices)

    affiliation = forms.CharField(max_length=200, required=False)
    comment = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        for field in ("name", "affiliation", "comment"):
            try:
                reject_control_characters(data.get(field, ""), multiline=field == "comment")
            except ValidationError as exc:
                self.add_error(field, exc)
        clean_public_after(self)
        if data.get("display") == Signature.Display.PUBLIC and not (data.get("name") or "").strip():
            self.add_error("name", "Enter the name to show: it is needed to show you publicly.")
        return data
