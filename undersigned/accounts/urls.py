from django.urls import path

from undersigned.accounts import passkeys, reset, views

app_name = "accounts"
urlpatterns = [
    path("", views.account, name="account"),
    path("verify/", views.verify, name="verify"),
    path("confirm/", views.confirm, name="confirm"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/passkey/options", passkeys.register_options, name="passkey_options"),
    path("two-factor/passkey/", passkeys.register, name="passkey_register"),
    path("passkeys/login/options", passkeys.login_options, name="passkey_login_options"),
    path("passkeys/login/", passkeys.sign_in, name="passkey_login"),
    path("factors/remove-app/", views.remove_totp, name="remove_totp"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
    path("sessions/end/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("password-reset/", reset.ResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", reset.SentView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", reset.ConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", reset.CompleteView.as_view(), name="password_reset_complete"),
]
