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
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from undersigned.accounts.sessions import end_all
from undersigned.outbox import mail, quota


class ResetForm(PasswordResetForm):
    def save(self, *args, **kwargs):  # type: ignore[override]
        email = self.cleaned_data["email"]
        # A stranger can ask for this mail: it counts against the address's hourly cap, as
        # every such mail does, and the cap is asked about known and unknown addresses alike.
        within_cap = quota.allow([email])[0]
        users = list(self.get_users(email)) if within_cap else []
        for user in users:
            mail.send_password_reset(user.email, user, _link(user))
        if not users:  # the same work, so that the answer takes as long
            mail.render_password_reset(email, None, "/accounts/reset/x/y/")


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
