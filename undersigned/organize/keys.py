"""An organizer's public keys: hidden signers' names are sealed to these."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render

from undersigned.accounts import factors, services
from undersigned.lib import sealing


class KeyForm(forms.Form):
    public_key = forms.CharField(
        max_length=100,
        help_text="The public key that `undersigned keys generate --out FILE` printed on your "
        "computer. Your private key never comes here.",
    )
    label = forms.CharField(max_length=100, required=False, help_text="e.g. 'laptop'.")

    def clean_public_key(self):
        try:
            return sealing.validate_public_key(self.cleaned_data["public_key"])
        except sealing.SealingError as exc:
            raise ValidationError(str(exc)) from None


@login_required
def keys(request):
    if request.method == "POST" and not factors.is_recent(request):
        return factors.ask_again(request)  # a key of one's own reads every later hidden name
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.add_key(request.user, **form.cleaned_data, actor=request.user, via="web")
        except IntegrityError:
            form.add_error("public_key", "This key is registered already.")
        else:
            messages.success(request, "Key added: hidden signers' names are now sealed to it too.")
            return redirect("organize:keys")
    return render(
        request,
        "organize/keys.html",
        {"form": form, "keys": request.user.sealing_keys.order_by("created_at")},
        status=400 if form.errors else 200,
    )
