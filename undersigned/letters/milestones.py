"""Stamping milestones, in the counter's batch (``signatures.counting.apply_deltas``), under
the counter's lock: so each is stamped exactly once however many workers run, and a count
that jumps past several at once stamps each of them. A milestone stays stamped when the
count falls back below it."""

from __future__ import annotations

from datetime import datetime

from undersigned import events
from undersigned.letters.models import Letter, Milestone


def stamp(letter_ids, hour: datetime) -> int:
    """Stamp every milestone the letters' counts reached and that has no stamp yet, dated
    ``hour``; record a public event for each (the timeline, the feed, the organizers' mail).
    Call it inside the counter's transaction. Returns how many were stamped."""
    stamped = 0
    letters = Letter.objects.filter(pk__in=list(letter_ids)).only(
        "slug", "signature_count", "extra_milestones"
    )
    for letter in letters:
        lowest = Letter.milestone_thresholds(letter)
        due = [n for n in lowest if n <= letter.signature_count]
        if not due:
            continue
        reached = set(
            Milestone.objects.filter(letter=letter, count__in=due).values_list("count", flat=True)
        )
        for count in due:
            if count in reached:
                continue
            Milestone.objects.create(letter=letter, count=count, reached_at=hour)
            events.record("letter.milestone", letter=letter, via="worker", count=count)
            stamped += 1
    return stamped
