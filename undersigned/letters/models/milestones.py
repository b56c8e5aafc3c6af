"""A letter's milestones: 100, 300, 1,000, 3,000, 10,000, ... and any its organizers add,
each stamped once, by the counter, when the count first reaches it (``counting``)."""

from __future__ import annotations

from django.db import models

FIRST, LAST = 100, 100_000_000


def default_thresholds() -> list[int]:
    """100, 300, 1,000, 3,000, ... up to a hundred million."""
    out, n = [], FIRST
    while n <= LAST:
        out += [n, n * 3]
        n *= 10
    return out


class Milestone(models.Model):
    """A count the letter reached, and the hour it did (never finer: it could date the
    signature that reached it). Never deleted when the count falls back."""

    letter = models.ForeignKey(
        "letters.Letter", on_delete=models.CASCADE, related_name="milestones"
    )
    count = models.PositiveIntegerField()
    reached_at = models.DateTimeField()

    class Meta:
        ordering = ["count"]
        constraints = [
            models.UniqueConstraint(fields=["letter", "count"], name="one_milestone_per_count")
        ]

    def __str__(self) -> str:
        return f"{self.count} on {self.letter_id}"

    def to_dict(self) -> dict:
        return {"count": self.count, "reached_at": self.reached_at.isoformat()}
