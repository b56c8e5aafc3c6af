"""Put mail in the outbox. One small function per kind of email; each renders
``emails/<kind>-subject.txt``, ``-body.txt`` and ``-body.html``.

Call these inside the transaction that makes the change the mail is about: the row commits
with it or not at all, and the worker sends only committed rows.

Letters with discreet mail (all members-only letters) use the ``-discreet`` variants: a
neutral subject and sender that name neither the letter nor its organizers, because the
signer's employer may read their work mail."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string

from undersigned.outbox.models import OutgoingEmail


def enqueue(kind: str, to: str, context: dict, from_email: str = "") -> OutgoingEmail:
    context = {**context, "base_url": settings.BASE_URL, "site": urlsplit(settings.BASE_URL).netloc}
    subject = " ".join(render_to_string(f"emails/{kind}-subject.txt", context).split())
    return OutgoingEmail.objects.create(
        kind=kind,
        to=to,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        subject=subject[:300],
        body_text=render_to_string(f"emails/{kind}-body.txt", context),
        body_html=render_to_string(f"emails/{kind}-body.html", context),
    )


def _for_letter(kind: str, to: str, letter, **context) -> OutgoingEmail:
    if letter.mail_is_discreet:
        return enqueue(f"{kind}-discreet", to, context, settings.DISCREET_FROM_EMAIL)
    return enqueue(kind, to, {"letter": letter, **context})


def _link(prefix: str, token: str) -> str:
    return f"{settings.BASE_URL}/{prefix}/{token}"


def send_confirmation(to: str, letter, token: str, receipt: str) -> OutgoingEmail:
    return _for_letter("confirm", to, letter, url=_link("v", token), manage_url=_link("s", receipt))


def send_already_signed(to: str, letter, receipt: str) -> OutgoingEmail:
    return _for_letter("already-signed", to, letter, manage_url=_link("s", receipt))


def send_member_pass(to: str, letter, token: str) -> OutgoingEmail:
    """Members-only letters are always discreet."""
    return enqueue("member-pass", to, {"url": _link("m", token)}, settings.DISCREET_FROM_EMAIL)


def send_trend_alert(letter, field: str, key: str, count: int, threshold: int) -> list:
    """To every active operator (superuser) with an address."""
    from django.contrib.auth import get_user_model

    operators = get_user_model().objects.filter(is_superuser=True, is_active=True)
    context = {"letter": letter, "field": field, "key": key, "count": count, "threshold": threshold}
    return [enqueue("trend-alert", user.email, context) for user in operators if user.email]
