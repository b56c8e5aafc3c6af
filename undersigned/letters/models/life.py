"""A letter's life after it is published: versions of its text (what each signer signed),
dated updates, the demands with their status, and the addressee's public responses. All of
them are on the letter's public timeline (``events``)."""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone

from undersigned.lib.markdown import render_markdown


class ImmutableError(Exception):
    """A published version is what people signed: it is never changed or deleted."""


def text_hash(title: str, addressed_to: str, body: str) -> str:
    """SHA-256 of a version's canonical rendered text: its title, addressee and body as
    HTML, in Unicode NFC, lines joined by a newline."""
    canonical = "\n".join(
        unicodedata.normalize("NFC", part).replace("\r\n", "\n").strip()
        for part in (title, addressed_to, render_markdown(body))
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Version(models.Model):
    """The text of a letter as published at a moment. Immutable: every signature records the
    version its signer was shown."""

    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    addressed_to = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    hash = models.CharField(max_length=64)
    published_at = models.DateTimeField(default=timezone.now)
    corrections_only = models.BooleanField(
        default=False, help_text="Only corrections (typos, links): what was asked is unchanged."
    )

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "number"], name="one_version_number")
        ]

    def __str__(self) -> str:
        return f"version {self.number} of {self.letter_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise ImmutableError("A published version is never changed.")
        self.hash = text_hash(self.title, self.addressed_to, self.body)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("A published version is never deleted.")

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)

    def to_dict(self, signature_count: int | None) -> dict:
        return {
            "number": self.number,
            "hash": self.hash,
            "published_at": self.published_at.isoformat(),
            "corrections_only": self.corrections_only,
            "signature_count": signature_count,
        }


class Update(models.Model):
    """A dated post by the organizers under the letter: never part of what was signed. It can
    be corrected; the correction shows ("edited on ...")."""

    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="updates")
    body = models.TextField(validators=[MaxLengthValidator(20_000)])
    posted_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at", "-id"]

    def __str__(self) -> str:
        return f"update {self.pk} on {self.letter_id}"

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)


class Demand(models.Model):
    """One of the letter's asks, with its status."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MET = "met", "Met"
        PARTLY_MET = "partly-met", "Partly met"
        REFUSED = "refused", "Refused"

    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="demands")
    text = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    position = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict:
        return {
            "id": self.pk,
            "text": self.text,
            "status": self.status,
            "updated_at": self.updated_at.isoformat(),
        }


class DemandNote(models.Model):
    """A demand's status as it changed, with the organizers' note."""

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="notes")
    status = models.CharField(max_length=12, choices=Demand.Status.choices)
    note = models.TextField(blank=True, validators=[MaxLengthValidator(5_000)])
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.demand_id}: {self.status}"


class Response(models.Model):
    """A public statement by the addressee, as the organizers recorded it: who, when, what,
    and where it can be checked; and, beside it, the organizers' note with its own sources."""

    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="responses")
    by = models.CharField(max_length=200, help_text="Who said it (a person or a body).")
    role = models.CharField(max_length=200, blank=True, help_text="e.g. 'Chief executive'.")
    date = models.DateField(help_text="When it was said or published.")
    quote = models.TextField(
        validators=[MaxLengthValidator(20_000)], help_text="The quote or a summary (Markdown)."
    )
    # [{"url": ..., "seen_on": "YYYY-MM-DD"}, ...]: at least one.
    sources = models.JSONField(default=list)
    note = models.TextField(
        blank=True,
        validators=[MaxLengthValidator(20_000)],
        help_text="The organizers' note beside it (Markdown), e.g. what it contradicts.",
    )
    note_sources = models.JSONField(default=list, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.by}, {self.date}"

    @property
    def quote_html(self) -> str:
        return render_markdown(self.quote)

    @property
    def note_html(self) -> str:
        return render_markdown(self.note) if self.note else ""

    def to_dict(self) -> dict:
        return {
            "by": self.by,
            "role": self.role,
            "date": self.date.isoformat(),
            "quote": self.quote,
            "sources": self.sources,
            "note": self.note,
            "note_sources": self.note_sources,
        }
