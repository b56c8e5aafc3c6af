"""Put mail in the outbox. One small function per kind of email; each renders
``emails/<kind>-subject.txt``, ``-body.txt`` and ``-body.html`` (which extends
``emails/_base.html``: every HTML mail is a complete document in the same calm frame, and its
links say what they do, with the address beside them in small print).

Call these inside the transaction that makes the change the mail is about: the row commits
with it or not at all, and the worker sends only committed rows.

Letters with discreet mail (all members-only letters) use the ``-discreet`` variants: a
neutral subject and sender that name neither the letter nor its organizers, because the
signer's employer may read their work mail."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string

from undersigned.db import rows
from undersigned.outbox.models import OutgoingEmail
from undersigned.web.caching import MISSING, letter_key, recent


def _render(kind: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of a mail of ``kind``."""
    context = {**context, "base_url": settings.BASE_URL, "site": urlsplit(settings.BASE_URL).netloc}
    subject = " ".join(render_to_string(f"emails/{kind}-subject.txt", context).split())[:300]
    return (
        subject,
        render_to_string(f"emails/{kind}-body.txt", context),
        # A complete document (emails/_base.html) whose title is the subject.
        render_to_string(f"emails/{kind}-body.html", {**context, "subject": subject}),
    )


def _insert(
    kind: str, to: str, from_email: str, parts: tuple[str, str, str], headers: dict | None = None
) -> None:
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
            "headers": json.dumps(headers) if headers else "",
        },
    )


def enqueue(kind: str, to: str, context: dict, from_email: str = "") -> None:
    _insert(kind, to, from_email, _render(kind, context))


def _slot(name: str) -> str:
    """Where a private link's token goes in a mail rendered once for every signer."""
    return f"\ue000{name}\ue000"


def _for_letter(
    kind: str,
    to: str,
    letter,
    *,
    about=None,
    context: dict | None = None,
    headers: dict | None = None,
    **links: tuple[str, str],
) -> None:
    """A mail about ``letter`` whose only personal parts are links, given as
    ``name=(path prefix, token)``. A surge mails thousands of people about the same letter:
    the templates are rendered once per letter and kind (and ``about``, e.g. the event an
    update mail tells of; for as long as this process keeps a copy), with slots that each mail
    fills with its own tokens, in its text and in its ``headers``."""
    discreet = letter.mail_is_discreet
    template = f"{kind}-discreet" if discreet else kind
    key = letter_key("mail", letter.slug, template, letter.pk, about, *sorted(links))
    parts = recent.get(key)
    if parts is MISSING:
        slots = {name: _link(prefix, _slot(name)) for name, (prefix, _) in links.items()}
        shown = {**(context or {}), **slots}
        parts = _render(template, shown if discreet else {"letter": letter, **shown})
        recent.set(key, parts, 2)
    filled = dict(headers or {})
    for name, (_, token) in links.items():
        parts = tuple(part.replace(_slot(name), token) for part in parts)
        filled = {k: v.replace(_slot(name), token) for k, v in filled.items()}
    from_email = settings.DISCREET_FROM_EMAIL if discreet else ""
    _insert(template, to, from_email, parts, filled or None)


def _link(prefix: str, token: str) -> str:
    return f"{settings.BASE_URL}/{prefix}/{token}"


def send_confirmation(to: str, letter, token: str, receipt: str) -> None:
    _for_letter("confirm", to, letter, url=("v", token), manage_url=("s", receipt))


def send_already_signed(to: str, letter, receipt: str, release: str = "") -> None:
    """``release``: a confirmation link that releases the signature from its hold."""
    if release:
        _for_letter(
            "already-signed", to, letter, manage_url=("s", receipt), release_url=("v", release)
        )
    else:
        _for_letter("already-signed", to, letter, manage_url=("s", receipt))


def send_member_pass(to: str, letter, token: str) -> None:
    """Members-only letters are always discreet."""
    enqueue("member-pass", to, {"url": _link("m", token)}, settings.DISCREET_FROM_EMAIL)


def send_invitation(to: str, letter, role: str, token: str, invited_by) -> None:
    """An invitation to join a letter's organizers (a one-time link to accept)."""
    url = _link("organize/join", token)
    if letter.mail_is_discreet:  # an employer reads work mail: no letter, no names
        enqueue("invitation-discreet", to, {"role": role, "url": url}, settings.DISCREET_FROM_EMAIL)
        return
    context = {
        "letter": letter,
        "role": role,
        "url": url,
        "invited_by": invited_by.get_username() if getattr(invited_by, "pk", None) else "",
    }
    enqueue("invitation", to, context)


def send_update_test(to: str, letter, update) -> None:
    """The organizer's test of an update mail: what subscribers will get."""
    if letter.mail_is_discreet:
        enqueue("update-test-discreet", to, {}, settings.DISCREET_FROM_EMAIL)
    else:
        enqueue("update-test", to, {"letter": letter, "update": update})


def send_news(to: str, letter, event, context: dict, unsubscribe: str) -> None:
    """What an event (an update, a response, a demand met) tells a subscriber, with a
    one-click unsubscribe (RFC 8058: the List-Unsubscribe headers, and a link)."""
    url = _link("u", _slot("unsubscribe_url"))
    _for_letter(
        "news",
        to,
        letter,
        about=event.pk,
        context=context,
        headers={
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        unsubscribe_url=("u", unsubscribe),
    )


def send_tip_activity(to: str) -> None:
    """To a tip recipient: that there is something new, and nothing else (not what, not
    where, not when: it goes out after the hour of the activity is over)."""
    enqueue("tip-activity", to, {})


def render_password_reset(to: str, user, path: str) -> tuple[str, str, str]:
    return _render("password-reset", {"user": user, "link": settings.BASE_URL + path})


def send_password_reset(to: str, user, path: str) -> None:
    _insert("password-reset", to, "", render_password_reset(to, user, path))


def send_login_failures(to: str, user, failures: int) -> None:
    enqueue("login-failures", to, {"user": user, "failures": failures})


# Pledges (undersigned/pledges/). A pledge cannot be attached to a letter with discreet mail,
# so these name it.


def send_pledge_confirmation(to: str, pledge, token: str, receipt: str) -> None:
    context = {"pledge": pledge, "url": _link("pv", token), "manage_url": _link("ps", receipt)}
    enqueue("pledge-confirm", to, context)


def send_pledge_already(to: str, pledge, receipt: str) -> None:
    enqueue("pledge-already", to, {"pledge": pledge, "manage_url": _link("ps", receipt)})


def send_pledge_news(what: str, addresses: list[str], pledge) -> None:
    """What became of a pledge (``met``, ``failed``, ``announce``), one row per committer;
    the mail is rendered once for all of them (nothing in it is personal)."""
    parts = _render(f"pledge-{what}", {"pledge": pledge, "days": settings.PLEDGE_ANNOUNCE_DAYS})
    for to in addresses:
        _insert(f"pledge-{what}", to, "", parts)
