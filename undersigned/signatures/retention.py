"""Retention: delete what is no longer needed. Run by ``undersigned purge`` and hourly by the
worker; every step is idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from undersigned import events
from undersigned.letters import services
from undersigned.letters.models import Letter, MemberPass
from undersigned.moderation import trends
from undersigned.outbox import quota
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures import affiliations
from undersigned.signatures.models import ForgeChallenge, PendingChange, Signature
from undersigned.signatures.privacy import address_cutoff, forget_old_addresses
from undersigned.tips import services as tips

SENT_MAIL_KEPT = timedelta(days=7)


def purge(now=None) -> dict[str, int]:
    now = now or timezone.now()
    done = {}
    done["expired pending signatures"] = _deleted(Signature.objects.expired(now))
    done["expired pending changes"] = _deleted(
        PendingChange.objects.filter(token_expires_at__lte=now)
    )
    # A confirmed signature's link no longer expires; its time would only keep the expiry
    # index (models.py) growing with every signature ever confirmed.
    done["spent link times cleared"] = (
        Signature.objects.confirmed()
        .filter(token_expires_at__lte=now)
        .update(token_expires_at=None)
    )
    done["expired forge challenges"] = _deleted(ForgeChallenge.objects.filter(expires_at__lte=now))
    done["expired member links"] = _deleted(MemberPass.objects.filter(expires_at__lte=now))
    # Sent mail is scrubbed when sent; the bare status rows go after a week.
    done["old mail records"] = _deleted(
        OutgoingEmail.objects.filter(
            status__in=[OutgoingEmail.Status.SENT, OutgoingEmail.Status.FAILED],
            created_at__lte=now - SENT_MAIL_KEPT,
        )
    )
    done["mail counts of past hours"] = quota.forget_old()
    done["address hashes cleared"] = forget_old_addresses(now)
    done["trend hours deleted"] = trends.forget_old(address_cutoff(now))
    closed = Letter.objects.filter(
        status=Letter.Status.CLOSED, key_destroyed_at__isnull=True, closed_at__isnull=False
    )
    destroyed = 0
    for letter in closed:
        if letter.closed_at + timedelta(days=letter.purge_after_days) <= now:
            services.destroy_key(letter)
            destroyed += 1
    done["letter keys destroyed"] = destroyed
    done["breakdowns of members-only letters"] = affiliations.forget_uncounted()
    done["old events deleted"] = events.forget_old(now)
    done.update(tips.purge(now))
    return done


def _deleted(queryset) -> int:
    """Delete; return how many rows of the queryset's own model went (not cascades)."""
    return queryset.delete()[1].get(queryset.model._meta.label, 0)
