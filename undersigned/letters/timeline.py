"""The letter's public timeline and the organizers' verbs that add to it: updates (dated
posts, never part of what was signed), demands with their status, and the addressee's
responses with their sources.

The timeline is the letter's public events (``events``): published, each new version, each
update, demand and response, closed and reopened, invalidations; one list for the page, the
API and the Atom feed. Every entry has a stable id (the event's) and a permalink
``/l/<slug>/#e-<id>``."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from undersigned import events
from undersigned.events.kinds import KINDS
from undersigned.events.models import Event
from undersigned.letters.models import Demand, DemandNote, Letter, Response, Update
from undersigned.letters.services import LetterError

PAGE = 20


def _check_mail(letter: Letter, mail: bool) -> None:
    """Mailing subscribers is allowed a few times a week per letter (the operator's cap)."""
    if not mail:
        return
    from undersigned.subscriptions.services import mailings_left

    if not mailings_left(letter):
        raise LetterError(
            f"This letter's subscribers were mailed {settings.UPDATE_MAILS_PER_WEEK} times in "
            "the last seven days, as often as this site allows: post it without mailing them, "
            "or wait a few days."
        )


def _check_update(body: str) -> None:
    if not body.strip():
        raise LetterError("An update needs some text.")
    if len(body) > 20_000:
        raise LetterError(f"An update is at most 20,000 characters; this one is {len(body):,}.")


def post_update(letter: Letter, body: str, *, mail: bool = False, actor=None, via: str) -> Update:
    if not letter.is_published:
        raise LetterError("Publish the letter first: updates go under a published letter.")
    _check_update(body)
    with transaction.atomic():
        _check_mail(letter, mail)
        update = Update.objects.create(
            letter=letter, body=body, author=actor if getattr(actor, "pk", None) else None
        )
        events.record(
            "update.posted", letter=letter, actor=actor, via=via, update=update.pk, mail=mail
        )
    return update


def edit_update(update: Update, body: str, *, actor=None, via: str) -> Update:
    """Correct an update; the correction shows ("edited on ...")."""
    _check_update(body)
    if body == update.body:
        return update
    with transaction.atomic():
        update.body, update.edited_at = body, timezone.now()
        update.save(update_fields=["body", "edited_at"])
        events.record("update.edited", letter=update.letter, actor=actor, via=via, update=update.pk)
    return update


def add_demand(letter: Letter, text: str, *, actor=None, via: str) -> Demand:
    text = " ".join(text.split())
    if not text:
        raise LetterError("A demand needs some text.")
    if len(text) > 500:
        raise LetterError(f"A demand is at most 500 characters; this one is {len(text)}.")
    with transaction.atomic():
        position = letter.demands.count() + 1
        demand = Demand.objects.create(letter=letter, text=text, position=position)
        events.record(
            "demand.added", letter=letter, actor=actor, via=via, demand=demand.pk, text=text
        )
    return demand


def set_demand_status(
    demand: Demand, status: str, note: str = "", *, mail: bool = False, actor=None, via: str
) -> DemandNote:
    if status not in Demand.Status.values:
        raise LetterError(f"{status!r} is not a status: open, met, partly-met or refused.")
    if status == demand.status and not note.strip():
        raise LetterError(f"This demand is {demand.get_status_display().lower()} already.")
    letter = demand.letter
    with transaction.atomic():
        _check_mail(letter, mail)
        demand.status, demand.updated_at = status, timezone.now()
        demand.save(update_fields=["status", "updated_at"])
        entry = DemandNote.objects.create(demand=demand, status=status, note=note.strip())
        events.record(
            "demand.status",
            letter=letter,
            actor=actor,
            via=via,
            demand=demand.pk,
            text=demand.text,
            status=demand.get_status_display().lower(),
            note=entry.pk,
            mail=mail,
        )
    return entry


def clean_sources(urls: list[str], seen_on: date | None = None) -> list[dict]:
    """Source links as kept: http(s) URLs, each with the day it was seen."""
    day = (seen_on or timezone.now().date()).isoformat()
    sources = []
    for url in (u.strip() for u in urls):
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 1000:
            raise LetterError(f"{url[:100]!r} is not a web address (http:// or https://).")
        sources.append({"url": url, "seen_on": day})
    return sources


def record_response(
    letter: Letter,
    *,
    by: str,
    said_on: date,
    quote: str,
    sources: list[str],
    role: str = "",
    note: str = "",
    note_sources: list[str] = (),  # type: ignore[assignment]
    mail: bool = False,
    actor=None,
    via: str,
) -> Response:
    """Record a public statement by the addressee, with at least one source link."""
    if not letter.is_published:
        raise LetterError("Publish the letter first: responses go on its public timeline.")
    by, role = " ".join(by.split()), " ".join(role.split())
    if not by or not quote.strip():
        raise LetterError("Say who responded and what they said.")
    if len(by) > 200 or len(role) > 200:
        raise LetterError("Who responded, and their role, are at most 200 characters each.")
    if len(quote) > 20_000 or len(note) > 20_000:
        raise LetterError("The quote and the note are at most 20,000 characters each.")
    if said_on > timezone.now().date():
        raise LetterError("A response cannot be dated in the future.")
    kept = clean_sources(sources)
    if not kept:
        raise LetterError("Give at least one source link, so that readers can check it.")
    with transaction.atomic():
        _check_mail(letter, mail)
        response = Response.objects.create(
            letter=letter,
            by=by,
            role=role,
            date=said_on,
            quote=quote.strip(),
            sources=kept,
            note=note.strip(),
            note_sources=clean_sources(list(note_sources)),
        )
        events.record(
            "response.recorded",
            letter=letter,
            actor=actor,
            via=via,
            response=response.pk,
            by=response.by,
            mail=mail,
        )
    return response


def test_update(letter: Letter, body: str, organizer) -> str:
    """Mail the organizer what the update's mail would say, before anyone else gets it;
    returns a message for the organizer."""
    from undersigned.outbox import mail

    if not organizer.email:
        return "Your account has no email address: add one to get a test mail."
    preview = Update(letter=letter, body=body, posted_at=timezone.now())
    mail.send_update_test(organizer.email, letter, preview)
    return f"A test of the mail went to {organizer.email}; nobody else got it."


# --- reading ----------------------------------------------------------------------------------


def _objects(events_: list[Event]) -> dict[str, dict]:
    """The updates, responses, demand notes and demands the events name, by id."""
    wanted: dict[str, set] = {"update": set(), "response": set(), "note": set(), "demand": set()}
    for event in events_:
        for key in wanted:
            if key in event.data and isinstance(event.data[key], int):
                wanted[key].add(event.data[key])
    return {
        "update": Update.objects.in_bulk(wanted["update"]),
        "response": Response.objects.in_bulk(wanted["response"]),
        "note": DemandNote.objects.in_bulk(wanted["note"]),
        "demand": Demand.objects.in_bulk(wanted["demand"]),
    }


def entries(
    letter: Letter, before: int | None = None, limit: int = PAGE
) -> tuple[list, int | None]:
    """One page of the letter's timeline, newest first, from the event with id ``before``
    (a cursor): (entries, next cursor)."""
    found = Event.objects.public().filter(letter=letter).order_by("-id")
    if before is not None:
        found = found.filter(id__lt=before)
    page = list(found[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    objects = _objects(page)
    return [_entry(letter, event, objects) for event in page], page[-1].pk if more else None


def _entry(letter: Letter, event: Event, objects: dict) -> dict:
    data = event.data
    entry = {
        "kind": event.kind,
        "id": event.pk,
        "date": event.at.isoformat(),
        "text": KINDS[event.kind].describe(data) if event.kind in KINDS else event.kind,
        "url": f"{settings.BASE_URL}{letter.get_absolute_url()}#e-{event.pk}",
        "at": event.at,
    }
    if event.kind in ("update.posted", "update.edited"):
        update = objects["update"].get(data.get("update"))
        if update:
            entry["update"] = update
            entry["body"] = update.body
            entry["edited_at"] = update.edited_at.isoformat() if update.edited_at else None
    elif event.kind == "response.recorded":
        response = objects["response"].get(data.get("response"))
        if response:
            entry["response"] = response
            said = response.to_dict()
            entry["said_on"] = said.pop("date")  # the entry's own date is when it was recorded
            entry.update(said)
    elif event.kind.startswith("demand."):
        demand = objects["demand"].get(data.get("demand"))
        note = objects["note"].get(data.get("note"))
        entry["demand_id"] = data.get("demand")
        entry["demand"] = data.get("text", demand.text if demand else "")
        if event.kind == "demand.status":
            entry["status"] = note.status if note else data.get("status")
            entry["note"] = note.note if note else ""
    elif event.kind == "letter.revised":
        entry["number"] = data.get("number")
        entry["corrections_only"] = bool(data.get("corrections_only"))
    elif event.kind.startswith("pledge.") and data.get("pledge"):
        entry["pledge_url"] = f"{settings.BASE_URL}/p/{data['pledge']}/"
    elif event.kind.startswith("signatures."):
        entry["count"] = data.get("count")
        entry["reason"] = data.get("reason", "")
    return entry


def public_dict(entry: dict) -> dict:
    """An entry as the API gives it (no model objects)."""
    return {k: v for k, v in entry.items() if k not in ("update", "response", "at")}


def news_context(event: Event) -> dict:
    """What a subscriber's mail about ``event`` says."""
    letter = event.letter
    assert letter is not None  # news is about a letter
    entry = _entry(letter, event, _objects([event]))
    return {
        "entry": entry,
        "event": event,
        "permalink": entry["url"],
        # For discreet mail: an address that names no letter (it redirects to the entry).
        "neutral_link": f"{settings.BASE_URL}/e/{event.pk}",
    }
