"""Public signers by the affiliation they gave: the breakdown "by organization".

Affiliations are free text, kept only for public signers and encrypted at rest (so that one
who later hides their name leaves no readable copy), so no plain-text tally of them can be
kept and no query can group by them. The worker counts them instead: a letter at a time, up
to ``CHUNK`` public signers per round (a letter of 1,000,000 takes some minutes, and the
worker's other jobs never wait for more than a chunk), each affiliation normalized
(``normalized``: Unicode form, case, spacing, stray punctuation), groups smaller than k folded
into "other" (``growth.fold``), and only the groups shown stored, encrypted like the
affiliations. Only public signers of letters that are not members-only count: their
affiliations are on the public page already, so the breakdown tells nobody anything new. A
letter is counted again at most every ``REFRESH_SECONDS``, so the figures trail the list by
about one pass."""

from __future__ import annotations

import json
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import IntegrityError, transaction

from undersigned.letters.growth import OTHER, fold
from undersigned.letters.models import Letter
from undersigned.signatures.models import Affiliations, Signature
from undersigned.web.caching import letter_key

CHUNK = 2000  # public signers read per round of the worker
LETTERS_PER_ROUND = 50  # letters finished in one round at most (small ones take one query)
REFRESH_SECONDS = 60  # a letter is counted again no sooner than this
SHOWN = 10  # the largest groups shown; the rest are "other"
# Groups kept in memory while counting a letter at most: past this, groups of one are counted
# as "other" (a letter of a million different affiliations must not fill the worker's memory).
MAX_GROUPS = 50_000
_STRAY = " .,;:!?-_/\\|@#*\"'()[]{}\u2013\u2014"


def normalized(affiliation: str) -> str:
    """The group an affiliation belongs to: "ACME Corp.", " acme  corp" and "Ａｃｍｅ Corp"
    are one."""
    text = " ".join(unicodedata.normalize("NFKC", affiliation).casefold().split())
    return text.strip(_STRAY)


def counted_letters():
    """The letters whose public signers are counted: published, not members-only."""
    return Letter.objects.published().exclude(visibility=Letter.Visibility.MEMBERS)


def forget_uncounted() -> int:
    """Delete the stored breakdown of letters no longer counted (made members-only since);
    hourly, with the purge, not in the worker's every round: an empty DELETE still takes
    SQLite's write lock."""
    return Affiliations.objects.exclude(letter__in=counted_letters()).delete()[0]


def groups(letter: Letter) -> dict[str, int]:
    """The stored breakdown of ``letter``'s public signers by affiliation ({} before the
    first count, and always for a members-only letter)."""
    if letter.members_only:
        return {}
    stored = Affiliations.objects.filter(letter=letter).values_list("groups", flat=True).first()
    return dict(json.loads(stored)) if stored else {}


def shown(spellings: dict[str, Counter[str]], other: int = 0) -> list[tuple[str, int]]:
    """What the page shows for {group: Counter(spelling)} and ``other`` signers counted in no
    group: each group under its most common spelling, the ``SHOWN`` largest of at least k,
    and "other"."""
    counts: dict[str, int] = {OTHER: other}
    for spelled in spellings.values():
        label = min(spelled, key=lambda spelling: (-spelled[spelling], spelling))
        counts[label] = counts.get(label, 0) + sum(spelled.values())
    largest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    top = dict(largest[:SHOWN])
    top[OTHER] = top.get(OTHER, 0) + sum(n for _label, n in largest[SHOWN:])
    return list(fold(top).items())


@dataclass
class _Letter:
    pk: int
    slug: str
    after: int | None = None  # the last order key read
    spellings: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    other: int = 0  # signers whose group was let go (``MAX_GROUPS``)

    def let_go_of_groups_of_one(self) -> None:
        ones = [group for group, spelled in self.spellings.items() if spelled.total() == 1]
        for group in ones:
            del self.spellings[group]
        self.other += len(ones)


class Scan:
    """The worker's count of affiliations, letter by letter, the letter counted longest ago
    first. One per worker process: two workers each count, and the last to finish a letter
    stores it."""

    def __init__(self, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.refresh_seconds = refresh_seconds
        self.current: _Letter | None = None
        self.due: list[_Letter] = []
        self.finished: dict[int, float] = {}  # letter id: when this process last stored it

    def step(self, budget: int = CHUNK) -> int:
        """Read up to ``budget`` public signers, going on to the next letter due when one is
        done; return how many signers were read and letters stored (0: nothing was due)."""
        done = 0
        for _ in range(LETTERS_PER_ROUND):
            want = budget - done
            letter = self.current = self.current or (self._next() if want > 0 else None)
            if letter is None:
                break
            after = {"order_key__gt": letter.after} if letter.after is not None else {}
            rows = list(
                Signature.objects.counted()
                .filter(letter_id=letter.pk, display=Signature.Display.PUBLIC, **after)
                .order_by("order_key")
                .values_list("order_key", "affiliation")[:want]
            )
            for order_key, affiliation in rows:
                letter.after = order_key
                group = normalized(affiliation)
                if group:
                    letter.spellings[group][" ".join(affiliation.split())] += 1
            if len(letter.spellings) > MAX_GROUPS:
                letter.let_go_of_groups_of_one()
            done += len(rows)
            if len(rows) == want:
                break  # the budget is spent: this letter goes on in the next round
            self._store(letter)
            self.current = None
            done += 1
        return done

    def _next(self) -> _Letter | None:
        if not self.due:
            now, never = time.monotonic(), float("-inf")
            self.due = [
                _Letter(pk, slug)
                for pk, slug in counted_letters().values_list("pk", "slug")
                if now - self.finished.get(pk, never) >= self.refresh_seconds
            ]
            # Popped from the end: the letter stored longest ago (or never) last in the list.
            self.due.sort(key=lambda letter: self.finished.get(letter.pk, never), reverse=True)
        return self.due.pop() if self.due else None

    def _store(self, letter: _Letter) -> None:
        self.finished[letter.pk] = time.monotonic()
        value = json.dumps(shown(letter.spellings, letter.other))
        try:
            with transaction.atomic():
                Affiliations.objects.update_or_create(
                    letter_id=letter.pk, defaults={"groups": value}
                )
        except IntegrityError:  # the letter was deleted meanwhile
            return
        cache.delete(letter_key("breakdown", letter.slug))


_scan = Scan()


def count_some() -> int:
    """The worker's job: one chunk of the count."""
    return _scan.step()


def count_all() -> None:
    """Count every letter to the end, now (tests; ``undersigned`` commands)."""
    scan = Scan(refresh_seconds=float("inf"))
    while scan.step():
        pass
