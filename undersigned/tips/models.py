"""The tip line's rows, apart from letters' signatures: nothing here links to a signature.

What a copy of these tables holds: for each conversation, its scope (the instance, or a
letter), a slow peppered hash of the codename (which finds it), the public half of the key
pair derived from the codename (replies are sealed to it), its status and the day of its
last activity; for each message, whether the source or a recipient wrote it, its day, and
ciphertext (``lib.tipbox``) that only a recipient's private key (or, for replies, the
codename) opens. No address, no browser, no time finer than the day."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from undersigned.letters.models import Letter

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # no i, l, o, u: easy to read and type


def new_conversation_id() -> str:
    """10 random characters (50 bits): short enough to type in a command, in no order."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def random_id() -> int:
    return secrets.randbits(62) + 1


def today():
    return timezone.now().date()


class Conversation(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        READ = "read", "Read"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    id = models.CharField(
        primary_key=True, max_length=12, default=new_conversation_id, editable=False
    )
    letter = models.ForeignKey(
        Letter,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tip_conversations",
        help_text="Empty: sent to the instance's tip recipients.",
    )
    lookup = models.CharField(
        max_length=64, unique=True, help_text="Argon2id of the codename, peppered; not it."
    )
    reply_key = models.CharField(
        max_length=64, help_text="Public key derived from the codename; replies are sealed to it."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # One coarse value, overwritten: the day of the last message either way.
    last_activity = models.DateField(default=today)

    class Meta:
        indexes = [models.Index(fields=["last_activity"], name="tip_last_activity")]

    def __str__(self) -> str:
        return f"tip {self.id} ({self.status})"


class Message(models.Model):
    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    position = models.PositiveIntegerField()
    from_source = models.BooleanField()
    # ``lib.tipbox.seal_envelope``: the text and the files' names under a random data key,
    # which is sealed to each recipient (and, for replies, to the codename's key).
    sealed = models.JSONField()
    on = models.DateField(default=today)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "position"], name="one_message_per_place"
            )
        ]

    def __str__(self) -> str:
        return f"message {self.position} of tip {self.conversation_id}"


class File(models.Model):
    """A file of a message: ciphertext only (a secretstream under the message's data key)."""

    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="one_file_per_place")
        ]

    def __str__(self) -> str:
        return f"file {self.position} of {self.message}"


class Recipient(models.Model):
    """An account whose keys receive the tips sent to the whole instance (``/tips/``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tip_recipient"
    )
    added_on = models.DateField(default=today, editable=False)

    class Meta:
        verbose_name = "tip recipient"

    def __str__(self) -> str:
        return str(self.user)


class Notice(models.Model):
    """Whether a recipient is owed a "new activity on the tip line" mail: at most one an
    hour, sent after the hour of the activity is over (so it dates nothing finer)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tip_notice"
    )
    pending_since = models.DateTimeField(null=True, blank=True)  # to the hour
    last_sent = models.DateTimeField(null=True, blank=True)  # to the hour

    def __str__(self) -> str:
        return f"tip notice for {self.user}"
