"""An organizer's account: the second step of the log-in, setting up a second factor,
recovery codes, confirming it is them before a sensitive act, API tokens and sessions.

The verbs live in ``factors``, ``tokens`` and ``sessions``; these views only translate their
errors."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from undersigned.accounts import factors, sessions, tokens
from undersigned.accounts.models import ApiToken, Passkey, TotpDevice
from undersigned.letters.models import Letter


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        label="Code",
        help_text="The 6 digits your authenticator app shows now, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )


class ConfirmForm(CodeForm):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    field_order = ["password", "code"]


def safe_next(request, target: str = "") -> str:
    target = target or request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("organize:dashboard")


def _next(request):
    return redirect(safe_next(request))


def _may_set_up(request) -> bool:
    """Setting up a factor: for a session that has shown one, or an account with none yet
    (whose session cannot have). A password alone never adds a factor to an account that
    has one."""
    return factors.is_verified(request) or not factors.has_factor(request.user)


@login_required
def account(request):
    user = request.user
    context = {
        "totp": TotpDevice.objects.filter(user=user, confirmed=True).first(),
        "passkeys": Passkey.objects.filter(user=user).order_by("created_at"),
        "codes_left": factors.recovery_codes_left(user),
        "tokens": ApiToken.objects.filter(user=user).select_related("letter").order_by("-id"),
        "sessions": sessions.for_user(user),
        "this_session": request.session.session_key,
    }
    return render(request, "accounts/account.html", context)


@sensitive_post_parameters("code")
@login_required
def verify(request):
    """The log-in's second step: a code, a recovery code, or a passkey (``passkeys.py``)."""
    if factors.passes(request):
        return _next(request)
    if not factors.has_factor(request.user):
        return redirect("accounts:two_factor")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            used = factors.check_code(request.user, form.cleaned_data["code"])
        except factors.CodeRefused as exc:
            form.add_error("code", str(exc))
        else:
            factors.mark_verified(request)
            if used == "recovery":
                left = factors.recovery_codes_left(request.user)
                messages.warning(request, f"Recovery code used: {left} left. Make new ones soon.")
            return _next(request)
    context = {"form": form, "next": request.GET.get("next", ""), "has_passkey": _passkeys(request)}
    return render(request, "accounts/verify.html", context, status=400 if form.errors else 200)


def _passkeys(request) -> bool:
    return Passkey.objects.filter(user=request.user).exists()


@sensitive_post_parameters("password", "code")
@login_required
def confirm(request):
    """Confirm it is you before a sensitive act: the password and a factor (or a passkey)."""
    user = request.user
    with_factor = factors.has_factor(user)
    form = ConfirmForm(request.POST or None)
    if not with_factor:
        del form.fields["code"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if factors.paused(user):
            form.add_error(None, factors.TOO_MANY_CODES)
        elif authenticate(request, username=user.get_username(), password=data["password"]) != user:
            factors.refuse_password(user)
            form.add_error("password", "That is not your password.")
        else:
            try:
                if with_factor:
                    factors.check_code(user, data["code"])
            except factors.CodeRefused as exc:
                form.add_error("code", str(exc))
            else:
                factors.mark_verified(request)
                return _next(request)
    context = {"form": form, "next": request.GET.get("next", ""), "has_passkey": _passkeys(request)}
    return render(request, "accounts/confirm.html", context, status=400 if form.errors else 200)


@sensitive_post_parameters("code")
@login_required
def two_factor(request):
    """Set up the authenticator app: its secret (as text and as an ``otpauth:`` link), then
    the first code, which turns it on and shows the recovery codes once."""
    if not _may_set_up(request):
        return redirect("accounts:verify")
    if factors.has_factor(request.user) and not factors.is_recent(request):
        return factors.ask_again(request)
    if TotpDevice.objects.filter(user=request.user, confirmed=True).exists():
        # The app is on (to change it, remove it first): the page offers a passkey only.
        return render(request, "accounts/two_factor.html", {"totp_on": True, "has_factor": True})
    device = factors.start_totp(request.user)
    form = CodeForm(request.POST or None)
    form.fields["code"].help_text = "The 6 digits your app shows once it has the key above."
    if request.method == "POST" and form.is_valid():
        if factors.confirm_totp(device, form.cleaned_data["code"]):
            factors.mark_verified(request)
            codes = factors.new_recovery_codes(request.user)
            shown = {"codes": codes, "next": safe_next(request)}
            return render(request, "accounts/recovery_codes.html", shown)
        form.add_error("code", "That code is not right. Check the app's clock, then try again.")
    context: dict[str, object] = {
        "form": form,
        "secret": device.secret,
        "uri": factors.provisioning_uri(device),
        "has_factor": factors.has_factor(request.user),
        "next": request.GET.get("next", ""),
    }
    return render(request, "accounts/two_factor.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
@factors.recent_auth_required
def recovery_codes(request):
    codes = factors.new_recovery_codes(request.user)
    context = {"codes": codes, "next": reverse("accounts:account")}
    return render(request, "accounts/recovery_codes.html", context)


@login_required
@require_POST
@factors.recent_auth_required
def remove_totp(request):
    factors.remove_totp(request)
    messages.success(request, "Authenticator app removed.")
    return redirect("accounts:account")


# --- API tokens ---------------------------------------------------------------------------------


class TokenForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="What will use it, e.g. 'counter script'.")
    letter = forms.ModelChoiceField(
        queryset=Letter.objects.none(),
        required=False,
        empty_label="All my letters",
        help_text="A token for one letter can do nothing to the others.",
    )
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial="read")
    expires_days = forms.IntegerField(
        min_value=1, max_value=366, initial=90, label="Expires after (days)"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["letter"].queryset = Letter.objects.organized_by(user).order_by("title")  # type: ignore[attr-defined]


@login_required
def api_tokens(request):
    form = TokenForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if not factors.is_recent(request):
            return factors.ask_again(request)
        if form.is_valid():
            _, plain = tokens.create(
                request.user, **form.cleaned_data, actor=request.user, via="web"
            )
            return render(request, "accounts/token_created.html", {"token": plain})
    found = ApiToken.objects.filter(user=request.user).select_related("letter").order_by("-id")
    context = {"form": form, "tokens": found}
    return render(request, "accounts/tokens.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def revoke_token(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    tokens.revoke(token, actor=request.user, via="web")
    messages.success(request, "Token revoked: it no longer works.")
    return redirect("accounts:tokens")


# --- sessions -----------------------------------------------------------------------------------


@login_required
@require_POST
def sign_out_everywhere(request):
    """End every session of the account, this one too: log in again where you are."""
    sessions.end_all(request.user)
    request.session.flush()
    messages.success(request, "Signed out everywhere.")
    return redirect("login")
