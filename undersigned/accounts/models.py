from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

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
