"""Update mails: who gets them, exactly once each, and how anyone stops them with one click.

- ``subscribe`` (the worker, as it records a submission that asked for updates) keeps the
  address encrypted under the letter's key, tied to that submission until it is confirmed.
- ``deliver`` (the worker's fan-out, for the events that mail subscribers) queues one mail per
  subscriber, with a ``Delivery`` row in the same transaction: a worker killed halfway leaves
  the rest for the next, and nobody gets it twice.
- ``unsubscribe`` by the link in every mail (RFC 8058 one-click: a POST with no cookie and no
  form is enough; a GET shows a button).
- At most ``UNDERSIGNED_UPDATE_MAILS_PER_WEEK`` mailings per letter in seven days."""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from undersigned.events.models import Event
from undersigned.lib.tokens import derive_key
from undersigned.subscriptions.models import Delivery, Subscription

CHUNK = 200  # subscribers per transaction


def subscribe(letter, signature_id: int, address: str, change_id: int | None = None) -> None:
    Subscription.objects.create(
        letter=letter,
        signature_id=signature_id,
        change_id=change_id,
        email=Subscription.locked(letter, address),
    )


def confirmed(signature_id: int, change_id: int | None) -> None:
    """The submission ``change_id`` (None: the signature's own) was confirmed: its
    subscription, if it asked for one, is the signature's only one."""
    kept = Subscription.objects.filter(signature_id=signature_id, change_id=change_id).first()
    if kept is None:
        return
    Subscription.objects.filter(signature_id=signature_id, change__isnull=True).exclude(
        pk=kept.pk
    ).delete()
    if change_id is not None:
        Subscription.objects.filter(pk=kept.pk).update(change=None)


def receives(signature_id: int) -> bool:
    """Whether the signer asked for (and confirmed) update mails."""
    return Subscription.objects.filter(signature_id=signature_id, change__isnull=True).exists()


def stop(signature_id: int) -> None:
    """The signer stops update mails from their private page: their address goes."""
    Subscription.objects.filter(signature_id=signature_id).delete()


# --- the unsubscribe link -----------------------------------------------------------------


def _mac(pk: int) -> bytes:
    key = derive_key(settings.SECRET_KEY, "unsubscribe")
    return hmac.new(key, pk.to_bytes(8, "big"), "sha256").digest()[:16]


def token_for(subscription: Subscription) -> str:
    raw = subscription.pk.to_bytes(8, "big") + _mac(subscription.pk)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def subscription_for(token: str) -> Subscription | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 24:
        return None
    pk = int.from_bytes(raw[:8], "big")
    if not hmac.compare_digest(raw[8:], _mac(pk)):
        return None
    return Subscription.objects.select_related("letter").filter(pk=pk).first()


def unsubscribe(token: str) -> bool:
    """Forget the address behind ``token`` (a link that leads nowhere looks the same)."""
    subscription = subscription_for(token)
    if subscription is None:
        return False
    Subscription.objects.filter(pk=subscription.pk).delete()
    return True


# --- mailing --------------------------------------------------------------------------------


def mailings_this_week(letter) -> int:
    since = timezone.now() - timedelta(days=7)
    return Event.objects.filter(
        letter=letter, at__gte=since, kind__in=MAILED_KINDS, data__mail=True
    ).count()


def mailings_left(letter) -> int:
    return max(0, settings.UPDATE_MAILS_PER_WEEK - mailings_this_week(letter))


MAILED_KINDS = ("update.posted", "response.recorded", "demand.status")


def deliver(event: Event) -> int:
    """Queue the mail of ``event`` for every subscriber not yet sent it, a chunk per
    transaction; once all are queued, the event is done. Returns how many were queued."""
    from undersigned.letters.timeline import news_context
    from undersigned.outbox import mail

    letter = event.letter
    if letter is None or not letter.key_salt:  # the letter's data was purged meanwhile
        Event.objects.filter(pk=event.pk).update(fanned_out=True)
        return 0
    context = news_context(event)
    queued = 0
    while True:
        with transaction.atomic():
            chunk = list(
                Subscription.objects.receiving(letter)
                .exclude(pk__in=Delivery.objects.filter(event=event).values("subscription_id"))
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")[:CHUNK]
            )
            if not chunk:
                Event.objects.filter(pk=event.pk).update(fanned_out=True)
                return queued
            Delivery.objects.bulk_create(Delivery(subscription=s, event=event) for s in chunk)
            for subscription in chunk:
                mail.send_news(
                    subscription.address(letter), letter, event, context, token_for(subscription)
                )
            queued += len(chunk)


def forget_letter(letter) -> int:
    """The letter's data is purged: its subscribers' addresses go (unreadable already, with
    the salt)."""
    return Subscription.objects.filter(letter=letter).delete()[0]
