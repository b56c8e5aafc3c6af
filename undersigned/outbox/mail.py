"""Put mail in the outbox. One small function per kind of email; each renders
``emails/<kind>-subject.txt``, ``-body.txt`` and ``-body.html``.

Call these inside the transaction that makes the change the mail is about: the row commits
with it or not at all, and the worker sends only committed rows."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string

from undersigned.outbox.models import OutgoingEmail


def enqueue(kind: str, to: str, context: dict) -> OutgoingEmail:
    context = {**context, "base_url": settings.BASE_URL}
    subject = " ".join(render_to_string(f"emails/{kind}-subject.txt", context).split())
    return OutgoingEmail.objects.create(
        kind=kind,
        to=to,
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject=subject[:300],
        body_text=render_to_string(f"emails/{kind}-body.txt", context),
        body_html=render_to_string(f"emails/{kind}-body.html", context),
    )


def send_confirmation(to: str, letter, token: str) -> OutgoingEmail:
    return enqueue("confirm", to, {"letter": letter, "url": f"{settings.BASE_URL}/v/{token}"})


def send_already_signed(to: str, letter) -> OutgoingEmail:
    return enqueue("already-signed", to, {"letter": letter})
