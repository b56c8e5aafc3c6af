"""The organizer API (``/api/v1/organize/``): what a script may do for an organizer, with an
API token (``accounts/tokens.py``) sent as ``Authorization: Bearer <token>``, never in the
query string. Every act calls the same verb as the organizer's page, with ``via="api"``, and
is bounded by the token (its letter, its scope) and by the owner's role on the letter.

A token that is unknown, mistyped, expired or revoked gets one and the same 401; a letter the
token may not reach (or that its owner does not organize) is a 404, as for a page. The export
is streamed as the page streams it: hidden names stay sealed (the API never decrypts)."""

from __future__ import annotations

import json
from datetime import date
from functools import wraps

from django import forms
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from undersigned.accounts import tokens
from undersigned.accounts.models import ApiToken
from undersigned.api.views import error
from undersigned.letters import services, timeline
from undersigned.letters.forms import LetterForm
from undersigned.letters.models import Demand, Letter, Organizer
from undersigned.organize.forms import DemandStatusForm, ResponseForm, UpdateForm
from undersigned.signatures.services import SigningError

UNAUTHORIZED = "A valid API token is needed: send it as 'Authorization: Bearer <token>'."
VIEWER, EDITOR, OWNER = Organizer.Role.VIEWER, Organizer.Role.EDITOR, Organizer.Role.OWNER


def _unauthorized() -> JsonResponse:
    response = error(UNAUTHORIZED, 401)
    response["WWW-Authenticate"] = 'Bearer realm="undersigned"'
    return response


def token_view(methods: dict[str, str]):
    """``methods`` maps each HTTP method to the scope it needs (``read`` or ``write``)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(f"Method {request.method} is not allowed here.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            if "token" in request.GET or "access_token" in request.GET:
                return error("Send the token in the Authorization header, not the URL.", 400)
            scheme, _, plain = request.headers.get("authorization", "").partition(" ")
            token = tokens.authenticate(plain.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                return _unauthorized()
            if methods[request.method] == "write" and token.scope != ApiToken.Scope.WRITE:
                return error("This token may only read; make a read-write token to act.", 403)
            request.api_token = token
            request.user = token.user
            try:
                return view(request, *args, **kwargs)
            except Refused as refused:
                return refused.response

        return csrf_exempt(wrapper)

    return decorate


class Refused(Exception):
    def __init__(self, response: JsonResponse):
        self.response = response


def _letter(request, slug: str, role: str = VIEWER) -> Letter:
    """The letter at ``slug`` if the token reaches it and its owner has ``role`` on it;
    raises ``Refused`` (404 or 403) otherwise."""
    token: ApiToken = request.api_token
    letter = Letter.objects.filter(slug=slug).first()
    membership = Organizer.objects.filter(letter=letter, user=token.user).first()
    if letter is None or membership is None or token.letter_id not in (None, letter.pk):
        raise Refused(error(f"No letter at {slug!r} for this token.", 404))
    if not membership.may(role):
        raise Refused(error(f"This needs the role {role} on this letter.", 403))
    return letter


def _body(request) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _bad_json() -> JsonResponse:
    return error("The body must be a JSON object.", 400)


def _lines(data: dict, *names: str) -> dict:
    """The workspace's forms take links one per line; the API takes them as a list."""
    return {n: "\n".join(map(str, data[n])) for n in names if isinstance(data.get(n), list)}


def _form_error(form: forms.BaseForm) -> JsonResponse:
    fields = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    return error("Some fields are not right.", 400, fields=fields)


def _summary(letter: Letter, role: str) -> dict:
    return {
        "slug": letter.slug,
        "title": letter.title,
        "status": letter.status,
        "role": role,
        "url": letter.to_dict()["url"],
        "counts": {
            # What the counter keeps, and no pending figure: one that moves with each new
            # signature tells an organizer whether an address they typed had signed (the
            # workspace shows none either). Rounding only moves the edge an organizer probes.
            "confirmed": letter.signature_count,
            "verified": letter.verified_count,
            "held": letter.held_count,
        },
    }


@token_view({"GET": "read", "HEAD": "read", "POST": "write"})
def letters(request):
    """GET: the letters the token reaches. POST: a new draft (``slug``, ``title``, ``body``,
    ``addressed_to``, ...: the fields of the organizer's form)."""
    token: ApiToken = request.api_token
    if request.method == "POST":
        if token.letter_id is not None:
            return error("This token is for one letter; make a token for all letters.", 403)
        data = _body(request)
        if data is None:
            return _bad_json()
        defaults = {name: field.initial for name, field in LetterForm().fields.items()}
        form = LetterForm({k: v for k, v in {**defaults, **data}.items() if v is not None})
        if not form.is_valid():
            return _form_error(form)
        letter = services.create(form.save(commit=False), [token.user], actor=token.user, via="api")
        return JsonResponse(_summary(letter, OWNER), status=201)
    rows = Organizer.objects.filter(user=token.user).select_related("letter").order_by("id")
    if token.letter_id is not None:
        rows = rows.filter(letter_id=token.letter_id)
    return JsonResponse({"letters": [_summary(row.letter, row.role) for row in rows]})


@token_view({"GET": "read", "HEAD": "read"})
def letter(request, slug):
    found = _letter(request, slug)
    role = Organizer.objects.get(letter=found, user=request.user).role
    return JsonResponse(_summary(found, role))


def _act(request, slug, verb) -> JsonResponse:
    found = _letter(request, slug, OWNER)
    try:
        verb(found, actor=request.user, via="api")
    except services.LetterError as exc:
        return error(str(exc), 409)
    found.refresh_from_db()
    return JsonResponse(_summary(found, OWNER))


@token_view({"POST": "write"})
def publish(request, slug):
    return _act(request, slug, services.publish)


@token_view({"POST": "write"})
def close(request, slug):
    return _act(request, slug, services.close)


@token_view({"POST": "write"})
def updates(request, slug):
    """Post an update (``body``; ``mail``: also mail the subscribers)."""
    found = _letter(request, slug, EDITOR)
    data = _body(request)
    if data is None:
        return _bad_json()
    form = UpdateForm(data)
    if not form.is_valid():
        return _form_error(form)
    try:
        update = timeline.post_update(
            found,
            form.cleaned_data["body"],
            mail=form.cleaned_data["mail"],
            actor=request.user,
            via="api",
        )
    except services.LetterError as exc:
        return error(str(exc), 409)
    return JsonResponse({"id": update.pk, "body": update.body}, status=201)


@token_view({"POST": "write"})
def responses(request, slug):
    """Record the addressee's response (``by``, ``date`` YYYY-MM-DD, ``quote``, ``sources``)."""
    found = _letter(request, slug, EDITOR)
    data = _body(request)
    if data is None:
        return _bad_json()
    form = ResponseForm({**data, **_lines(data, "sources", "note_sources")})
    if not form.is_valid():
        return _form_error(form)
    clean = form.cleaned_data
    try:
        response = timeline.record_response(
            found,
            by=clean["by"],
            role=clean["role"],
            said_on=clean["date"],
            quote=clean["quote"],
            sources=clean["sources"],
            note=clean["note"],
            note_sources=clean["note_sources"],
            mail=clean["mail"],
            actor=request.user,
            via="api",
        )
    except (services.LetterError, SigningError) as exc:
        return error(str(exc), 400)
    return JsonResponse({"id": response.pk, "date": date.isoformat(clean["date"])}, status=201)


@token_view({"POST": "write"})
def demand(request, slug, pk):
    """Set a demand's status (``status``: open, met, partly-met, refused; ``note``)."""
    found = _letter(request, slug, EDITOR)
    data = _body(request)
    if data is None:
        return _bad_json()
    form = DemandStatusForm({**data, "demand": pk})
    if not form.is_valid():
        return _form_error(form)
    target = Demand.objects.filter(pk=pk, letter=found).first()
    if target is None:
        return error(f"No demand {pk} on this letter.", 404)
    clean = form.cleaned_data
    try:
        timeline.set_demand_status(
            target,
            clean["status"],
            clean["note"],
            mail=clean["mail"],
            actor=request.user,
            via="api",
        )
    except services.LetterError as exc:
        return error(str(exc), 409)
    target.refresh_from_db()
    return JsonResponse({"id": target.pk, "status": target.status})


@token_view({"GET": "read"})
def export(request, slug):
    """The confirmed signatures (``?format=csv|json``), as the organizer's page streams them:
    hidden signers' names stay sealed to the organizers' keys."""
    found = _letter(request, slug)
    fmt = request.GET.get("format", "csv")
    try:
        rows = services.export(found, fmt, actor=request.user, via="api")
    except services.LetterError as exc:
        return error(str(exc), 400)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = StreamingHttpResponse(rows, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{found.slug}-signatures.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response
