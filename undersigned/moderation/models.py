"""Operator tools: the abuse policy (tunable at run time in the admin), bulk invalidations
with undo, and the trending counts. Every operator act is an event (``undersigned.events``)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from undersigned.letters.models import Letter
from undersigned.lib.config import ConfigError, parse_cidrs
from undersigned.web.caching import MISSING, recent

COMMON_PROVIDERS = (
    "gmail.com outlook.com hotmail.com live.com yahoo.com icloud.com me.com proton.me "
    "protonmail.com gmx.de gmx.net web.de posteo.de mailbox.org fastmail.com aol.com"
)
POLICY_KEY = "moderation:policy"
POLICY_SECONDS = 5


def validate_networks(text: str) -> None:
    try:
        parse_cidrs(text, "")
    except ConfigError as exc:
        raise ValidationError(
            f"{str(exc).removeprefix(': ')}: write addresses or ranges such as 192.0.2.0/24, "
            "separated by commas."
        ) from None


class Policy(models.Model):
    """One row (pk 1), edited in the admin; every app server picks up changes within seconds.

    A signature over a limit, from a blocked domain or address pattern, or that filled the
    honeypot field is accepted like any other but *held*: confirmed, kept, shown as held (how
    many and why, never who), and counted once an organizer or operator releases it. Nobody is
    dropped for sharing an office network or a domain.

    The default limits come from the cases in tests/test_adversary.py: 300 colleagues behind
    one NAT signing their company's letter within an hour all count (addresses at a letter's
    own domains are never held for sharing a network or a domain); 200 people on one
    conference Wi-Fi signing a public letter within ten minutes all count; a bot signing 1,000
    times a minute from one address is held past the first 60."""

    signing_paused = models.BooleanField(
        "pause signing on every letter", default=False, help_text="The instance-wide kill switch."
    )
    pause_message = models.CharField(
        max_length=300,
        default="Signing is paused for a short while. Please come back later.",
    )
    burst_per_client = models.PositiveIntegerField(
        default=60,
        help_text="Signatures per letter from one client network (an IPv4 address, an IPv6 "
        "/64) in one minute; more are held.",
    )
    sustained_per_client = models.PositiveIntegerField(
        default=600, help_text="The same, in one hour."
    )
    burst_per_domain = models.PositiveIntegerField(
        default=300,
        help_text="Confirmed signatures per letter from one email domain in one minute; more "
        "are held. Not for the letter's own domains, nor for the allowed domains below.",
    )
    sustained_per_domain = models.PositiveIntegerField(
        default=3000, help_text="The same, in one hour."
    )
    allowed_domains = models.TextField(
        default=COMMON_PROVIDERS,
        blank=True,
        help_text="Email domains exempt from the per-domain limits (big shared providers).",
    )
    allowed_networks = models.TextField(
        blank=True,
        validators=[validate_networks],
        help_text="CIDRs exempt from the per-client limits (e.g. an office NAT), besides "
        "UNDERSIGNED_RATE_LIMIT_ALLOW.",
    )
    blocked_domains = models.TextField(
        blank=True, help_text="Email domains whose signatures are held, never counted unreviewed."
    )
    blocked_patterns = models.TextField(
        blank=True,
        help_text="Address patterns whose signatures are held, one per line, with * and ? "
        "wildcards (e.g. *+spam*@example.com).",
    )
    trending_alert_per_hour = models.PositiveIntegerField(
        default=500,
        help_text="Mail the operators when one domain or client address signs one letter "
        "more often than this in an hour.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "abuse policy"

    def __str__(self) -> str:
        return "Abuse policy"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)
        cache.delete(POLICY_KEY)
        recent.forget(POLICY_KEY)

    @classmethod
    def current(cls) -> Policy:
        policy = recent.get(POLICY_KEY)
        if policy is MISSING:
            policy = cache.get(POLICY_KEY)
            if policy is None:
                policy = cls.objects.filter(pk=1).first() or cls(pk=1)
                cache.set(POLICY_KEY, policy, POLICY_SECONDS)
            recent.set(POLICY_KEY, policy, 1)
        return policy

    # Each check runs for every signature; the lists are parsed once per text (see below).

    def domain_allowed(self, domain: str) -> bool:
        return domain in _words(self.allowed_domains)

    def address_blocked(self, canonical: str) -> bool:
        if canonical.rpartition("@")[2] in _words(self.blocked_domains):
            return True
        return _patterns(self.blocked_patterns)(canonical)

    def client_allowed(self, ip) -> bool:
        if ip is None:
            return False
        networks = (*settings.RATE_LIMIT_ALLOW, *_networks(self.allowed_networks))
        return any(ip in network for network in networks)


# The policy's lists as the checks use them, parsed once for each text rather than for each
# signature: an operator who pastes thousands of blocked domains during a surge must not slow
# signing down (parsing 5,000 domains and 200 patterns per signature cost 1.3 ms, more than
# the rest of a signing request).


@lru_cache(maxsize=8)
def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in text.replace(",", " ").split())


@lru_cache(maxsize=8)
def _patterns(text: str) -> Callable[[str], bool]:
    """Whether an address matches any of the patterns (``*``, ``?`` and ``[...]`` as in
    fnmatch). A pattern that ends in a plain domain ("*+bulk*@example.org") can only match
    addresses at that domain, so only those are tried against it: a long list costs each
    address a dictionary lookup and the few patterns for its domain."""
    by_domain: dict[str, list[str]] = {}
    for pattern in {p.strip().lower() for p in text.splitlines() if p.strip()}:
        _, at, domain = pattern.rpartition("@")
        plain = at and not any(c in domain for c in "*?[]")
        by_domain.setdefault(domain if plain else "", []).append(pattern)
    matchers = {
        domain: re.compile("|".join(fnmatch.translate(p) for p in sorted(patterns))).match
        for domain, patterns in by_domain.items()
    }
    anywhere = matchers.pop("", None)

    def matches(address: str) -> bool:
        at_domain = matchers.get(address.rpartition("@")[2])
        return any(m(address) for m in (at_domain, anywhere) if m is not None)

    return matches


@lru_cache(maxsize=8)
def _networks(text: str) -> tuple:
    try:
        return tuple(parse_cidrs(text, ""))
    except ConfigError:  # the admin refuses such text (validate_networks); else none count
        return ()


class Invalidation(models.Model):
    """Signatures that an operator removed from a letter's count, with a public reason; undo
    puts them back. The criteria are kept so the audit shows what was matched."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="invalidations")
    reason = models.CharField(max_length=300, help_text="Shown publicly on the letter's page.")
    criteria = models.JSONField(default=dict)
    count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.count} on {self.letter}: {self.reason}"


class Trend(models.Model):
    """How many signatures one email domain or one client-address hash gave one letter in one
    hour (UTC), for the trending report and the operators' alert. The worker adds each batch
    of signatures it records (``trends.record``), so the report reads a few rows by an index
    instead of aggregating every signature of a surge. Deleted with the IP hashes, after
    UNDERSIGNED_IP_HASH_DAYS (``trends.forget_old``)."""

    class Field(models.TextChoices):
        DOMAIN = "email_domain", "email domain"
        CLIENT = "ip_hash", "client-address hash"

    # No index of its own: the unique constraint starts with it.
    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    field = models.CharField(max_length=12, choices=Field.choices)
    key = models.CharField(max_length=253)
    signatures = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0, help_text="Of them, held by the limits.")
    alerted = models.BooleanField(default=False, help_text="Whether operators were mailed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "hour", "field", "key"], name="one_trend_per_key_and_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.signatures} from {self.key} on {self.letter_id} at {self.hour:%Y-%m-%d %H}h"
