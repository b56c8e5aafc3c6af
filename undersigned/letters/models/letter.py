from __future__ import annotations

import secrets
from typing import TypedDict

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from undersigned.lib.markdown import render_markdown
from undersigned.lib.times import zone
from undersigned.lib.tokens import derive_key, keyed_hash
from undersigned.web.caching import MISSING, letter_key, recent


def parse_milestones(value: str) -> list[int]:
    """The counts in "500, 2500"; raises ValueError for anything but positive numbers."""
    counts = [int(part) for part in value.replace(",", " ").split()]
    if any(n < 1 or n > 1_000_000_000 for n in counts):
        raise ValueError(value)
    return sorted(set(counts))


# The Ns a signer may choose for "show my name once N have signed" (the display choice
# `threshold`), besides the organizers' own (``Letter.public_after_choices``).
PUBLIC_AFTER_CHOICES = (50, 100, 300)


def validate_milestones(value: str) -> None:
    from django.core.exceptions import ValidationError

    try:
        parse_milestones(value)
    except ValueError:
        raise ValidationError(
            "Give whole numbers between 1 and 1,000,000,000, separated by commas."
        ) from None


def _new_key_salt() -> str:
    return secrets.token_hex(32)


class LetterQuerySet(models.QuerySet):
    def published(self):
        """Letters that readers can see: open or closed, never drafts."""
        return self.filter(status__in=[Letter.Status.OPEN, Letter.Status.CLOSED])

    def listed(self):
        return self.published().filter(visibility=Letter.Visibility.PUBLIC)

    def organized_by(self, user, role: str | None = None):
        """The letters ``user`` organizes (with at least ``role``: viewer, editor, owner)."""
        from undersigned.letters.models.team import Organizer

        roles = Organizer.Role.at_least(role) if role else Organizer.Role.values
        return self.filter(organizer__user=user, organizer__role__in=roles).distinct()


_LetterManagerBase = models.Manager.from_queryset(LetterQuerySet)


class LetterManager(_LetterManagerBase):
    def published_at_slug(self, slug: str) -> Letter | None:
        """The published letter at ``slug``, from this process's copy if it is a second or
        two old at most (a surge reads the same letter thousands of times a second). On the
        manager, not the query set: a copy costs no query set."""
        key = letter_key("row", slug)
        letter = recent.get(key)
        if letter is MISSING:
            letter = self.published().filter(slug=slug).first()
            recent.set(key, letter, 2)
        return letter


class LetterDict(TypedDict):
    slug: str
    title: str
    addressed_to: str
    status: str
    visibility: str
    url: str
    deadline: str | None
    time_zone: str
    published_at: str | None
    closed_at: str | None
    updated_at: str
    organization: str
    domains: list[str]
    invalidations: list[dict]
    signature_count: int | None
    verified_count: int | None
    held_count: int | None
    version: dict | None
    versions: list[dict]
    demands: list[dict]
    events_url: str
    goal: int | None
    organized_by: str
    breakdown: dict | None
    milestones: list[dict]
    public_after_choices: list[int]


class Letter(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for signatures"
        CLOSED = "closed", "Closed"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public: listed on the home page"
        UNLISTED = "unlisted", "Unlisted: only people with the link"
        MEMBERS = "members", "Members only: people who prove an address at the organization"

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Markdown. Raw HTML is shown as text, never run.",
        validators=[MaxLengthValidator(50_000)],
    )
    addressed_to = models.CharField(
        "addressed to",
        max_length=200,
        blank=True,
        help_text="The organization or person the letter is addressed to.",
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="Signing closes by itself at this time (optional)."
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        db_default="UTC",
        help_text="The deadline is entered and shown in this time zone.",
    )
    goal = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many signatures you aim for (optional): the page shows progress towards "
        "it. You may raise it later.",
    )
    organized_by = models.CharField(
        "organized by",
        max_length=200,
        blank=True,
        db_default="",
        help_text='How the organizers are named on the page, e.g. "Riverside Parents" '
        '(optional; blank reads "the organizers").',
    )
    extra_milestones = models.CharField(
        "milestones of your own",
        max_length=200,
        blank=True,
        db_default="",
        help_text="Counts to mark beside 100, 300, 1,000, 3,000, ..., separated by commas "
        "(optional), e.g. 500, 2500.",
        validators=[validate_milestones],
    )
    public_after_choices = models.CharField(
        "thresholds of your own for showing names",
        max_length=200,
        blank=True,
        db_default="",
        help_text="Signers may choose to have their name shown only once 50, 100 or 300 have "
        "signed; add counts of your own, separated by commas (optional), e.g. 25, 1000.",
        validators=[validate_milestones],
    )
    organizers: models.ManyToManyField = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="letters", through="Organizer"
    )

    organization = models.CharField(
        max_length=200,
        blank=True,
        help_text="The organization whose people sign, e.g. the signers' employer (optional).",
    )
    domains = models.CharField(
        max_length=1000,
        blank=True,
        help_text="The organization's email domains, separated by spaces or commas. A signer "
        "who confirms an address at one of them is shown as verified.",
    )
    include_subdomains = models.BooleanField(
        default=False,
        help_text="Also verify addresses at subdomains (e.g. eu.example.com for example.com).",
    )
    discreet_mail = models.BooleanField(
        default=False,
        help_text="Mail to signers names neither the letter nor its organizers (always so for "
        "members-only letters), because employers read work mail.",
    )
    hide_count = models.BooleanField(
        default=False, help_text="Members only: show the count to members only."
    )
    purge_after_days = models.PositiveIntegerField(
        default=30,
        help_text="Days after closing when the letter's hashing key is destroyed, so that no "
        "one can ever again test an email address against its signatures.",
    )
    key_destroyed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The number of the current version (``Version``) of the text; 0 while a draft.
    version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    signing_paused = models.BooleanField(
        default=False, help_text="The kill switch: stop taking signatures for a while."
    )
    pause_message = models.CharField(
        max_length=300, blank=True, help_text="Shown instead of the form while paused."
    )

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Written only by the counter (signatures.counting), never by signing or confirming;
    # ``counted_at`` to the hour.
    signature_count = models.PositiveIntegerField(default=0, editable=False)
    verified_count = models.PositiveIntegerField(default=0, editable=False)
    # Confirmed signatures that an abuse check holds (not counted until released).
    held_count = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Mixed with the instance secret (which is not in the database) to key this letter's
    # email hashes; destroying it makes the hashes impossible to recompute.
    key_salt = models.CharField(max_length=64, default=_new_key_salt, editable=False)

    objects = LetterManager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("letters:detail", args=[self.slug])

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)

    @property
    def is_published(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def local_deadline(self):
        """The deadline in the letter's time zone, as organizers entered it."""
        if self.deadline is None:
            return None
        return self.deadline.astimezone(zone(self.time_zone))

    @property
    def deadline_passed(self) -> bool:
        return self.deadline is not None and self.deadline <= timezone.now()

    @property
    def accepts_signatures(self) -> bool:
        return self.status == self.Status.OPEN and not self.deadline_passed

    def email_hash(self, canonical: str) -> str:
        if not self.key_salt:
            raise ValueError(f"letter {self.slug}: its hashing key was destroyed")
        key = derive_key(settings.SECRET_KEY, "email-hash", bytes.fromhex(self.key_salt))
        return keyed_hash(key, canonical).hex()

    @property
    def domain_list(self) -> list[str]:
        return [d for d in self.domains.replace(",", " ").split() if d]

    def verified_domain(self, email_domain: str) -> str:
        """The letter's domain that ``email_domain`` (canonical, ASCII) proves, or ""."""
        for domain in self.domain_list:
            if email_domain == domain or (
                self.include_subdomains and email_domain.endswith("." + domain)
            ):
                return domain
        return ""

    @property
    def members_only(self) -> bool:
        return self.visibility == self.Visibility.MEMBERS

    @property
    def mail_is_discreet(self) -> bool:
        return self.discreet_mail or self.members_only

    def count_is_public(self) -> bool:
        return not (self.members_only and self.hide_count)

    def to_dict(self) -> LetterDict:
        def iso(value):
            return value.isoformat() if value else None

        life = self._life()

        return {
            "slug": self.slug,
            "title": self.title,
            "addressed_to": self.addressed_to,
            "status": self.status_for_readers,
            "visibility": self.visibility,
            "url": settings.BASE_URL + self.get_absolute_url(),
            "deadline": iso(self.deadline),
            "time_zone": self.time_zone,
            "published_at": iso(self.published_at),
            "closed_at": iso(self.closed_at),
            "updated_at": self.updated_at.isoformat(),
            "organization": self.organization,
            "domains": self.domain_list,
            "invalidations": [
                {"count": i.count, "reason": i.reason, "date": i.created_at.date().isoformat()}
                for i in self.invalidations.filter(undone_at__isnull=True)
            ],
            "signature_count": self.signature_count if self.count_is_public() else None,
            "verified_count": self.verified_count if self.count_is_public() else None,
            "held_count": self.held_count if self.count_is_public() else None,
            "version": life["version"],
            "versions": life["versions"],
            "demands": life["demands"],
            "events_url": life["events_url"],
            "goal": self.goal,
            "organized_by": self.organized_by or "the organizers",
            "breakdown": self._breakdown() if self.count_is_public() else None,
            "milestones": [m.to_dict() for m in self.milestones.all()]
            if self.count_is_public()
            else [],
            "public_after_choices": self.public_after_options(),
        }

    def _breakdown(self) -> dict:
        from undersigned.letters.growth import breakdown

        return breakdown(self)

    def _life(self) -> dict:
        """The versions (with how many signed each), the demands and where the timeline is."""
        from undersigned.signatures.models import Tally

        shown = self.count_is_public()
        tallies = dict(
            Tally.objects.filter(letter=self, dimension=Tally.Dimension.VERSION).values_list(
                "key", "signatures"
            )
        )
        versions = [
            v.to_dict(tallies.get(str(v.number), 0) if shown else None) for v in self.versions.all()
        ]
        current = next((v for v in versions if v["number"] == self.version), None)
        return {
            "version": {"number": current["number"], "hash": current["hash"]} if current else None,
            "versions": versions,
            "demands": [d.to_dict() for d in self.demands.all()],
            "events_url": settings.BASE_URL + reverse("api:events", args=[self.slug]),
        }

    def public_after_options(self) -> list[int]:
        """The Ns its signers may choose for `threshold`: the short list and the organizers'."""
        try:
            extra = parse_milestones(self.public_after_choices)
        except ValueError:
            extra = []
        return sorted({*PUBLIC_AFTER_CHOICES, *extra})

    def milestone_thresholds(self) -> list[int]:
        from undersigned.letters.models.milestones import default_thresholds

        try:
            extra = parse_milestones(self.extra_milestones)
        except ValueError:
            extra = []
        return sorted({*default_thresholds(), *extra})

    @property
    def share_url(self) -> str:
        return settings.BASE_URL + self.get_absolute_url()

    @property
    def share_description(self) -> str:
        """The one line a shared link previews with (meta description, Open Graph)."""
        to = f" to {self.addressed_to}" if self.addressed_to else ""
        parts = [f"An open letter{to}."]
        if self.count_is_public():
            n = self.signature_count
            parts.append(f"{n:,} signature{'' if n == 1 else 's'}, each confirmed.")
        if self.accepts_signatures:
            parts.append("Read it and sign.")
        return " ".join(parts)

    @property
    def progress(self) -> dict | None:
        """The progress bar towards the goal: the bar's scale keeps a tenth past the count
        once the goal is passed, so a letter past its goal still shows room to grow."""
        if not self.goal:
            return None
        count = self.signature_count
        scale = max(self.goal, count + max(count // 10, 1)) if count >= self.goal else self.goal
        return {
            "goal": self.goal,
            "scale": scale,
            "percent": min(100, round(100 * count / self.goal)),
            "reached": count >= self.goal,
        }

    @property
    def status_for_readers(self) -> str:
        """An open letter whose deadline has passed reads as closed."""
        if self.status == self.Status.OPEN and self.deadline_passed:
            return self.Status.CLOSED
        return self.status


class MemberPass(models.Model):
    """A one-time link that proves an address at a members-only letter's organization and
    opens that letter (only that one) for the browser session that uses it. Only the token's
    hash is kept, and the address's keyed hash; not the address."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    # What the pass proves, for the session it opens: the address as the letter's keyed hash
    # (what a signature keeps), the domain it is at, and whether the operators block it. A
    # member then signs without a second mail.
    email_hash = models.CharField(max_length=64, blank=True)
    verified_domain = models.CharField(max_length=253, blank=True)
    blocked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"member pass for letter {self.letter_id}"
