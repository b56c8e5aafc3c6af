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

from undersigned.db import rows
from undersigned.outbox.models import OutgoingEmail
from undersigned.web.caching import MISSING, letter_key, recent


def _render(kind: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of a mail of ``kind``."""
    context = {**context, "base_url": settings.BASE_URL, "site": urlsplit(settings.BASE_URL).netloc}
    subject = " ".join(render_to_string(f"emails/{kind}-subject.txt", context).split())
    return (
        subject[:300],
        render_to_string(f"emails/{kind}-body.txt", context),
        render_to_string(f"emails/{kind}-body.html", context),
    )


def _insert(kind: str, to: str, from_email: str, parts: tuple[str, str, str]) -> None:
    # Signing queues a mail per request: one plain INSERT, not the ORM's (see db/rows.py).
    subject, body_text, body_html = parts
    rows.insert(
        OutgoingEmail,
        {
            "kind": kind,
            "to": to,
            "from_email": from_email or settings.DEFAULT_FROM_EMAIL,
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
        },
    )


def enqueue(kind: str, to: str, context: dict, from_email: str = "") -> None:
    _insert(kind, to, from_email, _render(kind, context))


def _slot(name: str) -> str:
    """Where a private link's token goes in a mail rendered once for every signer."""
    return f"\ue000{name}\ue000"


def _for_letter(kind: str, to: str, letter, **links: tuple[str, str]) -> None:
    """A mail about ``letter`` whose only personal parts are links, given as
    ``name=(path prefix, token)``. A surge mails thousands of people about the same letter:
    the templates are rendered once per letter and kind (for as long as this process keeps a
    copy of the letter), with slots that each mail fills with its own tokens."""
    discreet = letter.mail_is_discreet
    template = f"{kind}-discreet" if discreet else kind
    key = letter_key("mail", letter.slug, template, letter.pk, *sorted(links))
    parts = recent.get(key)
    if parts is MISSING:
        context = {name: _link(prefix, _slot(name)) for name, (prefix, _) in links.items()}
        parts = _render(template, context if discreet else {"letter": letter, **context})
        recent.set(key, parts, 2)
    for name, (_, token) in links.items():
        parts = tuple(part.replace(_slot(name), token) for part in parts)
    _insert(template, to, settings.DISCREET_FROM_EMAIL if discreet else "", parts)


def _link(prefix: str, token: str) -> str:
    return f"{settings.BASE_URL}/{prefix}/{token}"


def send_confirmation(to: str, letter, token: str, receipt: str) -> None:
    _for_letter("confirm", to, letter, url=("v", token), manage_url=("s", receipt))


def send_already_signed(to: str, letter, receipt: str, release: str = "") -> None:
    """``release``: a confirmation link that releases the signature from its hold."""
    links = {"manage_url": ("s", receipt)}
    if release:
        links["release_url"] = ("v", release)
    _for_letter("already-signed", to, letter, **links)


def send_member_pass(to: str, letter, token: str) -> None:
    """Members-only letters are always discreet."""
    enqueue("member-pass", to, {"url": _link("m", token)}, settings.DISCREET_FROM_EMAIL)


def send_tip_activity(to: str) -> None:
    """To a tip recipient: that there is something new, and nothing else (not what, not
    where, not when: it goes out after the hour of the activity is over)."""
    enqueue("tip-activity", to, {})
