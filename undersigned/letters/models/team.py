"""Who organizes a letter, with which role; invitations to join; and the addresses a letter
had before its slug changed."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organizer(models.Model):
    """A user's membership of a letter's organizers, with a role. Roles nest: an owner may do
    all an editor may, an editor all a viewer may."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner: everything, including inviting and removing organizers"
        EDITOR = "editor", "Editor: the text, updates, demands and responses"
        VIEWER = "viewer", "Viewer: the counts and exports"

        @classmethod
        def at_least(cls, role: str) -> list[str]:
            order = [cls.VIEWER, cls.EDITOR, cls.OWNER]
            return [r.value for r in order[order.index(cls(role)) :]]

    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.OWNER)

    class Meta:
        # The table of the plain many-to-many it was (migration letters 0006), with its
        # unique pair.
        db_table = "letters_letter_organizers"
        unique_together = [("letter", "user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) of {self.letter_id}"

    def may(self, role: str) -> bool:
        return self.role in Organizer.Role.at_least(role)


class Invitation(models.Model):
    """A one-time link that lets its holder join a letter's organizers with ``role``. Only
    the token's hash is kept; the address it was mailed to is not."""

    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=8, choices=Organizer.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"invitation to {self.letter_id} as {self.role}"


class SlugRedirect(models.Model):
    """An address a letter had: links to it keep working (a permanent redirect)."""

    slug = models.SlugField(max_length=80, unique=True)
    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"/l/{self.slug}/ -> {self.letter_id}"
