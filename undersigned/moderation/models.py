"""Operator tools: the abuse policy (tunable at run time in the admin), bulk invalidations
with undo, and the audit log of operator and organizer actions."""

from __future__ import annotations

import fnmatch

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.utils import timezone

from undersigned.letters.models import Letter
from undersigned.lib.caching import MISSING, recent
from undersigned.lib.config import ConfigError, parse_cidrs

COMMON_PROVIDERS = (
    "gmail.com outlook.com hotmail.com live.com yahoo.com icloud.com me.com proton.me "
    "protonmail.com gmx.de gmx.net web.de posteo.de mailbox.org fastmail.com aol.com"
)
POLICY_KEY = "moderation:policy"
POLICY_SECONDS = 5


class Policy(models.Model):
    """One row (pk 1), edited in the admin; every app server picks up changes within seconds.

    A signature over a limit, from a blocked domain or address pattern, or that filled the
    honeypot field is accepted on screen like any other, but flagged and never counted: the
    signer (or the bot) learns nothing."""

    signing_paused = models.BooleanField(
        "pause signing on every letter", default=False, help_text="The instance-wide kill switch."
    )
    pause_message = models.CharField(
        max_length=300,
        default="Signing is paused for a short while. Please come back later.",
    )
    burst_per_client = models.PositiveIntegerField(
        default=10, help_text="Signatures per letter per client address in one minute."
    )
    sustained_per_client = models.PositiveIntegerField(
        default=60, help_text="Signatures per letter per client address in one hour."
    )
    burst_per_domain = models.PositiveIntegerField(
        default=300, help_text="Signatures per letter per email domain in one minute."
    )
    sustained_per_domain = models.PositiveIntegerField(
        default=3000, help_text="Signatures per letter per email domain in one hour."
    )
    allowed_domains = models.TextField(
        default=COMMON_PROVIDERS,
        blank=True,
        help_text="Email domains exempt from the per-domain limits (big shared providers).",
    )
    allowed_networks = models.TextField(
        blank=True,
        help_text="CIDRs exempt from the per-client limits (e.g. an office NAT), besides "
        "UNDERSIGNED_RATE_LIMIT_ALLOW.",
    )
    blocked_domains = models.TextField(blank=True, help_text="Email domains never counted.")
    blocked_patterns = models.TextField(
        blank=True,
        help_text="Address patterns never counted, one per line, with * and ? wildcards "
        "(e.g. *+spam*@example.com).",
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

    @staticmethod
    def _words(text: str) -> set[str]:
        return {w.lower() for w in text.replace(",", " ").split()}

    def domain_allowed(self, domain: str) -> bool:
        return domain in self._words(self.allowed_domains)

    def address_blocked(self, canonical: str) -> bool:
        domain = canonical.rpartition("@")[2]
        if domain in self._words(self.blocked_domains):
            return True
        return any(
            fnmatch.fnmatchcase(canonical, pattern.strip().lower())
            for pattern in self.blocked_patterns.splitlines()
            if pattern.strip()
        )

    def client_allowed(self, ip) -> bool:
        try:
            networks = [*settings.RATE_LIMIT_ALLOW, *parse_cidrs(self.allowed_networks, "")]
        except ConfigError:
            networks = list(settings.RATE_LIMIT_ALLOW)
        return ip is not None and any(ip in network for network in networks)


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


class AuditEntry(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=60)
    letter = models.ForeignKey(Letter, null=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


def audit(actor, action: str, letter=None, **detail) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        letter=letter,
        detail=detail,
    )
