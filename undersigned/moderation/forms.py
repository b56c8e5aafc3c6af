"""The form that organizers (their letter's page) and operators (the admin) use to review
held signatures: count them, or remove them with a public reason."""

from __future__ import annotations

from django import forms

from undersigned.lib.text import reject_control_characters
from undersigned.moderation import limits, services
from undersigned.signatures.models import Tally


class HeldForm(forms.Form):
    reason = forms.ChoiceField(choices=list(limits.REASONS.items()), label="Held for")
    action = forms.ChoiceField(
        choices=[
            ("release", "Count them: they are real people"),
            ("invalidate", "Remove them, with a public reason"),
        ],
        widget=forms.RadioSelect,
        label="What to do",
    )
    public_reason = forms.CharField(
        max_length=300,
        required=False,
        label="Public reason (to remove them)",
        help_text="Shown on the letter's page with the number removed.",
    )

    def clean_public_reason(self):
        value = self.cleaned_data["public_reason"].strip()
        reject_control_characters(value)
        return value

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("action") == "invalidate" and not data.get("public_reason"):
            self.add_error("public_reason", "Say why they are removed: readers see it.")
        return data

    def apply(self, letter, *, actor, via: str) -> str:
        """Do what the form says; returns a message for the person."""
        reason, action = self.cleaned_data["reason"], self.cleaned_data["action"]
        if action == "release":
            count = services.release(letter, reason, actor=actor, via=via)
            return f"{count} held signature{'s' if count != 1 else ''} now counted."
        invalidation = services.invalidate(
            letter,
            services.Criteria(held=reason),
            self.cleaned_data["public_reason"],
            actor=actor,
            via=via,
        )
        return (
            f"{invalidation.count} held signature{'s' if invalidation.count != 1 else ''} removed."
        )


def held_by_reason(letter) -> list[dict]:
    """How many of the letter's signatures are held, per reason (as the counter last saw)."""
    tallies = Tally.objects.filter(
        letter=letter, dimension=Tally.Dimension.HELD, signatures__gt=0
    ).order_by("-signatures")
    return [
        {"reason": t.key, "text": limits.REASONS.get(t.key, t.key), "count": t.signatures}
        for t in tallies
    ]
