from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from undersigned.db.fields import VaultedTextField
from undersigned.lib import sealing


class OrganizerKeyQuerySet(models.QuerySet):
    def for_letter(self, letter):
        """The keys of the letter's organizers: hidden signers' fields are sealed to these.
        A deactivated account (left, or taken over) gets no more names, nor tips."""
        return self.filter(user__in=letter.organizers.all(), user__is_active=True)

    def register(self, user, public_key: str, label: str = "") -> OrganizerKey:
        """Store a public key made elsewhere. Raises ``SealingError`` if it is not a usable
        key, and ``IntegrityError`` if it is registered already."""
        public_key = sealing.validate_public_key(public_key)
        return self.create(
            user=user, public_key=public_key, key_id=sealing.key_id(public_key), label=label
        )


class OrganizerKey(models.Model):
    """An organizer's public key. The private key stays with the organizer, never here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sealing_keys"
    )
    public_key = models.CharField(
        max_length=64, unique=True, help_text="X25519 public key, base64 (44 characters)."
    )
    key_id = models.CharField(
        "key id", max_length=16, unique=True, help_text="First 16 hex digits of its SHA-256."
    )
    label = models.CharField(
        max_length=100, blank=True, help_text="Where the private key lives, e.g. 'laptop'."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OrganizerKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "organizer key"

    def __str__(self) -> str:
        label = f" ({self.label})" if self.label else ""
        return f"{self.key_id}{label} of {self.user}"


# --- second factors (accounts/factors.py) ----------------------------------------------------


class TotpDevice(models.Model):
    """An authenticator app's shared secret (RFC 6238, by ``pyotp``). The secret must be
    readable to check a code, so it is kept encrypted under the instance secret (a database
    dump alone cannot make codes). ``last_step`` is the 30-second step of the last code
    accepted: a code is good once, and never one from an earlier step."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = VaultedTextField()
    confirmed = models.BooleanField(default=False)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "authenticator app"

    def __str__(self) -> str:
        return f"authenticator app of {self.user}"


class RecoveryCode(models.Model):
    """A one-time code for when the other factors are lost; shown once, kept as a keyed hash."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.user}" + (" (used)" if self.used_at else "")


class Passkey(models.Model):
    """A WebAuthn credential (checked by ``webauthn``): its id and public key, never a secret."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url
    public_key = models.TextField()  # base64url of the COSE key
    sign_count = models.BigIntegerField(default=0)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.label or f"passkey {self.pk}"


# --- API tokens (accounts/tokens.py) ---------------------------------------------------------


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at=None).filter(
            models.Q(expires_at=None) | models.Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A token for scripts: ``us_r_`` (read) or ``us_w_`` (read and write), then a lookup
    prefix kept in plain, then the secret, kept only as a keyed hash."""

    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "read and write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    letter = models.ForeignKey(
        "letters.Letter",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Empty: every letter the user organizes.",
    )
    scope = models.CharField(max_length=5, choices=Scope.choices)
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="To the hour.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label or self.scope}) of {self.user}"


class UserSession(models.Model):
    """A logged-in session of an organizer, so they can see theirs and end them all. Kept to
    the hour, with the browser's own description of itself (never the address)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="logged_in_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField(help_text="To the hour.")
    user_agent = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"session of {self.user} since {self.started_at:%Y-%m-%d %H:00}"


class ResetRequest(models.Model):
    """A request for a password-reset mail, as the reset form left it: the worker looks the
    address up and mails its account, if there is one (``reset.send_requested``). So the
    form does the same work whether the address has an account or not (one insert), and its
    answer cannot tell them apart by its time either. The address is encrypted at rest and
    the row deleted when the worker takes it, a second or two later."""

    email = VaultedTextField(max_length=254)

    def __str__(self) -> str:
        return f"reset request {self.pk}"
