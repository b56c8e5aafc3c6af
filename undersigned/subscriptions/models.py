"""Update mails, only to those who asked: a signer who ticks "email me updates" leaves their
address, encrypted under a key derived from the instance secret and the letter's salt (so a
database dump cannot read it, and purging the letter's salt destroys it), until they
unsubscribe, withdraw, or the letter's data is purged."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from undersigned.lib import vault
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import derive_key
from undersigned.signatures.models import PendingChange, Signature, random_id


def letter_key(letter) -> bytes:
    """The key of a letter's subscribers' addresses: gone with the letter's salt."""
    if not letter.key_salt:
        raise ValueError(f"letter {letter.slug}: its data was purged")
    return derive_key(settings.SECRET_KEY, "subscriptions", bytes.fromhex(letter.key_salt))


class SubscriptionQuerySet(models.QuerySet):
    def receiving(self, letter):
        """Those who get the letter's update mails: subscribed with the submission that was
        confirmed, and still signed (a withdrawal deletes the subscription with the
        signature)."""
        return self.filter(
            letter=letter,
            change__isnull=True,
            signature__status=Signature.Status.CONFIRMED,
            signature__invalidation__isnull=True,
        )


class Subscription(models.Model):
    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    letter = models.ForeignKey("letters.Letter", on_delete=models.CASCADE, related_name="+")
    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="+")
    # Set while the submission that asked for updates waits for its own link: a later
    # submission by someone else cannot subscribe an address its owner did not confirm.
    change = models.ForeignKey(
        PendingChange, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    email = models.TextField()  # ``vault.lock`` under ``letter_key``
    created_at = models.DateTimeField(default=this_hour)

    objects = SubscriptionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"subscription {self.pk} to {self.letter_id}"

    def address(self, letter) -> str:
        return vault.unlock(self.email, key=letter_key(letter))

    @staticmethod
    def locked(letter, address: str) -> str:
        return vault.lock(address, key=letter_key(letter))


class Delivery(models.Model):
    """That an event's mail was queued for a subscriber: so each gets it exactly once, even
    if a worker is killed halfway through a letter's subscribers."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="one_delivery_each")
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} to {self.subscription_id}"
