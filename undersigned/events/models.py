"""What happened to a letter (or to the instance), as one row per act: the audit log, the
public timeline and the queue of mails that an act sets off. ``events.record`` writes it;
the registry in ``kinds`` says what each kind means."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from undersigned.letters.models import Letter


class Audience(models.TextChoices):
    PUBLIC = "public", "everyone (the letter's timeline)"
    ORGANIZERS = "organizers", "the letter's organizers and the operators"
    OPERATORS = "operators", "the operators only"


class EventQuerySet(models.QuerySet):
    def for_organizers(self):
        return self.filter(audience__in=[Audience.PUBLIC, Audience.ORGANIZERS])

    def public(self):
        return self.filter(audience=Audience.PUBLIC)

    def to_fan_out(self):
        return self.filter(fanned_out=False)


class Event(models.Model):
    letter = models.ForeignKey(
        Letter, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    kind = models.CharField(max_length=40)
    audience = models.CharField(max_length=12, choices=Audience.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who acted; empty for the worker and the command line.",
    )
    via = models.CharField(max_length=12, help_text="web, admin, command, api or worker.")
    data = models.JSONField(default=dict)
    # Exact for an organizer's or operator's own act; to the hour for anything that could
    # date a signer (``kinds.Kind.exact_time``).
    at = models.DateTimeField()
    # Whether the mails this event sets off (``kinds.Kind.fan_out``) are queued; events
    # that set off none are written as done.
    fanned_out = models.BooleanField(default=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["letter", "at"], name="event_letter_time"),
            models.Index(
                fields=["id"], name="event_to_fan_out", condition=models.Q(fanned_out=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"

    @property
    def text(self) -> str:
        from undersigned.events.kinds import KINDS

        kind = KINDS.get(self.kind)
        return kind.describe(self.data) if kind else self.kind
