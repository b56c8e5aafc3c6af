"""Password reset by mail, with the rules of every link here: the mail's link shows a form
(GET) and only its POST changes the password; it works once (its token is made from the
password it replaces) and for an hour (``PASSWORD_RESET_TIMEOUT``); and neither the page nor
its answer says whether an account has that address: both cases render the same mail (one is
queued, the other thrown away) and show the same page. A new password does not skip the
second factor."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from undersigned.accounts.models import ResetRequest
from undersigned.accounts.sessions import end_all
from undersigned.db import rows
from undersigned.outbox import mail, quota


class ResetForm(PasswordResetForm):
    def save(self, *args, **kwargs):  # type: ignore[override]
        """Leave the request for the worker (``send_requested``): one insert, whether the
        address has an account or not, so that neither the answer nor its time tells."""
        rows.insert(ResetRequest, {"email": self.cleaned_data["email"]})


def send_requested(limit: int = 100) -> int:
    """The worker's half: mail a reset link to the account of each requested address, if it
    has one and the address's hourly mail cap allows (asked about known and unknown
    addresses alike: a stranger can ask for this mail). Returns how many it took."""
    with transaction.atomic():
        batch = list(ResetRequest.objects.select_for_update(skip_locked=True)[:limit])
        if not batch:
            return 0
        form = PasswordResetForm()
        allowed = quota.allow([request.email for request in batch])
        for request, within_cap in zip(batch, allowed, strict=True):
            for user in form.get_users(request.email) if within_cap else []:
                mail.send_password_reset(user.email, user, _link(user))
        ResetRequest.objects.filter(pk__in=[request.pk for request in batch]).delete()
    return len(batch)


def _link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("accounts:password_reset_confirm", args=[uid, token])


class ResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")


class SentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class ConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        end_all(form.user)  # whoever knew the old password is logged out
        return response


class CompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
