"""JSON API v1: thin views over the same verbs as the pages. Errors are ``{"error": ...}``."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from undersigned.letters import timeline
from undersigned.letters.models import Letter
from undersigned.letters.views import LetterMoved, forge_scope, get_published_letter
from undersigned.signatures import forge
from undersigned.signatures.counting import count_entry
from undersigned.signatures.forms import ForgeSignatureForm, SignatureForm
from undersigned.signatures.models import parse_cursor, public_page
from undersigned.signatures.privacy import client_ip
from undersigned.signatures.services import (
    SigningError,
    check_forge_allowed,
    sign,
    sign_with_forge,
)
from undersigned.web.caching import answer, cached_response, letter_key


def error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def api_view(methods):
    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(f"Method {request.method} is not allowed here.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorate


def _published_letter(slug: str) -> Letter | None:
    """The published letter at ``slug``, or None; a slug it had before raises
    ``LetterMoved`` (a permanent redirect)."""
    try:
        return get_published_letter(slug)
    except Http404:
        return None


def _not_found(slug: str) -> JsonResponse:
    return error(f"No published letter at {slug!r}.", 404)


@api_view(["GET", "HEAD"])
def letter(request, slug):
    def build():
        letter = _published_letter(slug)
        return JsonResponse(letter.to_dict()) if letter else _not_found(slug)

    return cached_response(request, letter_key("api", slug), 2, 5, build)


@api_view(["GET", "HEAD"])
def count(request, slug):
    """Served from the cache that the counter refreshes; at most one query per process a
    second, however many readers poll it."""
    entry = count_entry(slug)
    if entry["status"] == 301:
        raise LetterMoved(slug, entry["moved"])
    if entry["status"] == 404:
        return _not_found(slug)
    if entry["status"] == 403:
        return error("The organizers show this letter's count to members only.", 403)
    return answer(request, entry["body"], "application/json", 2, entry["etag"])


@sensitive_variables("payload", "form")
@sensitive_post_parameters()
@api_view(["GET", "HEAD", "POST"])
def signatures(request, slug):
    if request.method == "POST":
        letter = _published_letter(slug)
        if letter is None:
            return _not_found(slug)
        if letter.members_only:
            return _members_only()
        return _sign(request, letter)
    try:
        after = parse_cursor(request.GET.get("after"))
        limit = int(request.GET.get("limit", 50))
    except ValueError:
        return error("'after' must be a cursor from a previous page and 'limit' a number.", 400)
    if not 1 <= limit <= 200:
        return error("'limit' must be between 1 and 200.", 400)

    def build():
        letter = _published_letter(slug)
        if letter is None:
            return _not_found(slug)
        if letter.members_only:
            return _members_only()
        rows, next_cursor = public_page(letter, after, limit)
        return JsonResponse(
            {
                "signatures": [row.to_public_dict() for row in rows],
                "next": str(next_cursor) if next_cursor is not None else None,
            }
        )

    return cached_response(request, letter_key("api-list", slug, after, limit), 5, 10, build)


@api_view(["GET", "HEAD"])
def events(request, slug):
    """The letter's public timeline, newest first, paginated by a cursor (``before``)."""
    try:
        before = int(request.GET["before"]) if request.GET.get("before") else None
        limit = int(request.GET.get("limit", 20))
    except ValueError:
        return error("'before' must be a cursor from a previous page and 'limit' a number.", 400)
    if not 1 <= limit <= 100 or (before is not None and before < 1):
        return error("'limit' must be between 1 and 100, and 'before' a positive number.", 400)

    def build():
        letter = _published_letter(slug)
        if letter is None:
            return _not_found(slug)
        if letter.members_only:
            return _members_only()
        entries, next_cursor = timeline.entries(letter, before, limit)
        return JsonResponse(
            {
                "events": [timeline.public_dict(entry) for entry in entries],
                "next": str(next_cursor) if next_cursor is not None else None,
                "next_url": (
                    f"{request.path}?before={next_cursor}&limit={limit}"
                    if next_cursor is not None
                    else None
                ),
            }
        )

    return cached_response(request, letter_key("api-events", slug, before, limit), 2, 5, build)


def _members_only() -> JsonResponse:
    return error(
        "This letter is for members of its organization only: read and sign it on its page.", 403
    )


FIELDS = (
    "name",
    "email",
    "affiliation",
    "department",
    "comment",
    "display",
    "public_after",
    "version",
    "updates",
)
# Signing as a code-forge account: all four, in place of or beside ``email``.
FORGE_FIELDS = ("forge", "forge_username", "challenge", "ssh_signature")
# Fields that are not text, and the JSON types they take.
TYPED = {"version": (int,), "public_after": (int,), "updates": (bool,)}
WHOLE = ("version", "public_after")  # whole numbers (JSON's true is an int to Python)


def _json_object(request) -> dict | JsonResponse:
    """The request's JSON object, or the error to answer."""
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        return error("The request body is not UTF-8 text.", 400)
    except (ValueError, RecursionError):
        return error("The request body is not valid JSON.", 400)
    if not isinstance(payload, dict):
        return error("Send a JSON object with the signing form's fields.", 400)
    return payload


def _sign(request, letter):
    payload = _json_object(request)
    if isinstance(payload, JsonResponse):
        return payload
    unknown = sorted(set(payload) - set(FIELDS + FORGE_FIELDS))
    if unknown:
        return error(
            f"Unknown fields: {', '.join(unknown)}.",
            400,
            fields={k: ["Unknown field."] for k in unknown},
        )
    wrong = sorted(
        key
        for key, value in payload.items()
        if not isinstance(value, TYPED.get(key, (str,)))
        or (key in WHOLE and isinstance(value, bool))
    )
    if wrong:
        expected = {
            "version": "Must be a whole number.",
            "public_after": "Must be a whole number.",
            "updates": "Must be true or false.",
        }
        return error(
            "Every field must be a string, but version and public_after (whole numbers) and "
            "updates (true or false).",
            400,
            fields={k: [expected.get(k, "Must be a string.")] for k in wrong},
        )
    if "updates" in payload:
        payload = {**payload, "updates": "on" if payload["updates"] else ""}
    if "public_after" in payload:
        payload = {**payload, "public_after": str(payload["public_after"])}
    with_forge = any(name in payload for name in FORGE_FIELDS)
    form_class = ForgeSignatureForm if with_forge else SignatureForm
    form = form_class(payload, public_after_choices=letter.public_after_options())
    if not form.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        return error("Some fields need attention.", 400, fields=fields)
    try:
        if with_forge:
            return _sign_as_forge_account(request, letter, form)
        sign(letter, form.signature_data(), client_ip(request))
    except SigningError as exc:
        return error(str(exc), exc.status)
    return HttpResponse(ACCEPTED, content_type="application/json", status=202)


def _sign_as_forge_account(request, letter, form) -> HttpResponse:
    data = form.cleaned_data
    try:
        forge.count_attempt(client_ip(request))
        proof = forge.prove(
            *forge_scope(letter),
            data["forge"],
            data["forge_username"],
            data["challenge"],
            data["ssh_signature"],
        )
    except forge.ForgeError as exc:
        return error(str(exc), 400)
    signature = replace(form.signature_data(), proof=proof)
    if signature.email:
        sign(letter, signature, client_ip(request))
        return HttpResponse(ACCEPTED, content_type="application/json", status=202)
    receipt = sign_with_forge(letter, signature, client_ip(request))
    body = {"status": "signed", "receipt_url": f"{settings.BASE_URL}/s/{receipt}"}
    response = JsonResponse(body, status=202)
    response["Cache-Control"] = "private, no-store"
    return response


@sensitive_variables("payload")
@api_view(["POST"])
def forge_challenges(request, slug):
    """A challenge for a code-forge account to sign (``signatures.forge``)."""
    letter = _published_letter(slug)
    if letter is None:
        return _not_found(slug)
    payload = _json_object(request)
    if isinstance(payload, JsonResponse):
        return payload
    unknown = sorted(set(payload) - {"forge", "username"})
    if unknown:
        return error(f"Unknown fields: {', '.join(unknown)}; send forge and username.", 400)
    if not all(isinstance(payload.get(name), str) for name in ("forge", "username")):
        return error("Send forge (github, gitlab or codeberg) and username, as strings.", 400)
    try:
        if letter.members_only:
            return _members_only()
        if not letter.accepts_signatures:
            return error("This letter is closed and no longer takes signatures.", 409)
        check_forge_allowed(letter)
        forge.count_attempt(client_ip(request))
        challenge = forge.new_challenge(*forge_scope(letter), payload["forge"], payload["username"])
    except (SigningError, forge.ForgeError) as exc:
        return error(str(exc), 400)
    return challenge_response(challenge)


ACCEPTED = json.dumps({"status": "pending_confirmation"}).encode()


def challenge_response(challenge: forge.Challenge) -> JsonResponse:
    """201 with a forge challenge and the commands that sign it."""
    response = JsonResponse(
        {
            "challenge": challenge.text,
            "namespace": challenge.namespace,
            "expires_at": challenge.expires_at.isoformat() if challenge.expires_at else None,
            "command": challenge.command,
            "commands": challenge.commands,
        },
        status=201,
    )
    response["Cache-Control"] = "private, no-store"
    return response
