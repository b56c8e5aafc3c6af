"""``GET /api/v1/pledges/<slug>`` and ``POST /api/v1/pledges/<slug>/commitments``: thin views
over the same verbs as the page; errors are ``{"error": ...}``."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from undersigned.api.views import ACCEPTED, api_view, challenge_response, error
from undersigned.pledges import services
from undersigned.pledges.forms import CommitmentForm, ForgeCommitmentForm
from undersigned.pledges.models import Pledge
from undersigned.signatures import forge
from undersigned.signatures.privacy import client_ip
from undersigned.web.caching import cached_response

FIELDS = ("name", "email", "affiliation", "department", "comment", "display", "public_after")
# Committing as a code-forge account: all four, in place of ``email``.
FORGE_FIELDS = ("forge", "forge_username", "challenge", "ssh_signature")


def _published(slug: str) -> Pledge | None:
    return Pledge.objects.published().select_related("letter").filter(slug=slug).first()


@api_view(["GET", "HEAD"])
def pledge(request, slug):
    def build():
        found = _published(slug)
        if found is None:
            return error(f"No published pledge at {slug!r}.", 404)
        return JsonResponse(found.to_dict())

    return cached_response(request, f"pledge:{slug}:api", 2, 5, build)


@sensitive_variables("payload", "form")
@sensitive_post_parameters()
@api_view(["POST"])
def commitments(request, slug):
    found = _published(slug)
    if found is None:
        return error(f"No published pledge at {slug!r}.", 404)
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        return error("The request body is not UTF-8 text.", 400)
    except (ValueError, RecursionError):
        return error("The request body is not valid JSON.", 400)
    if not isinstance(payload, dict):
        return error("Send a JSON object with the commitment form's fields.", 400)
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
        if not isinstance(value, int if key == "public_after" else str)
        or (key == "public_after" and isinstance(value, bool))
    )
    if wrong:
        return error(
            "Every field must be a string, but public_after (a whole number).",
            400,
            fields={
                k: ["Must be a whole number." if k == "public_after" else "Must be a string."]
                for k in wrong
            },
        )
    if "public_after" in payload:
        payload = {**payload, "public_after": str(payload["public_after"])}
    with_forge = any(name in payload for name in FORGE_FIELDS)
    if with_forge and "email" in payload:
        return error(
            "Commit with an email address or as a code-forge account, not both.",
            400,
            fields={"email": ["Leave it out when committing as a code-forge account."]},
        )
    form: ForgeCommitmentForm | CommitmentForm = (
        ForgeCommitmentForm(payload, pledge=found)
        if with_forge
        else CommitmentForm(payload, pledge=found)
    )
    if not form.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        return error("Some fields need attention.", 400, fields=fields)
    try:
        if isinstance(form, ForgeCommitmentForm):
            return _commit_as_forge_account(request, found, form)
        services.commit(found, form.commitment_data())
    except services.PledgeError as exc:
        return error(str(exc), exc.status)
    return HttpResponse(ACCEPTED, content_type="application/json", status=202)


def _commit_as_forge_account(request, pledge: Pledge, form) -> HttpResponse:
    data = form.cleaned_data
    try:
        services.check_forge_allowed(pledge)
        forge.count_attempt(client_ip(request))
        proof = forge.prove(
            *services.forge_scope(pledge),
            data["forge"],
            data["forge_username"],
            data["challenge"],
            data["ssh_signature"],
        )
    except forge.ForgeError as exc:
        return error(str(exc), 400)
    account = services.ForgeProof(proof.forge, proof.username)
    receipt = services.commit_verified(pledge, form.signature_data(), account)
    body = {"status": "committed", "receipt_url": f"{settings.BASE_URL}/ps/{receipt}"}
    response = JsonResponse(body, status=202)
    response["Cache-Control"] = "private, no-store"
    return response


@sensitive_variables("payload")
@api_view(["POST"])
def forge_challenges(request, slug):
    """A challenge for a code-forge account to sign, to commit to the pledge."""
    found = _published(slug)
    if found is None:
        return error(f"No published pledge at {slug!r}.", 404)
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error("The request body is not a JSON object.", 400)
    if not isinstance(payload, dict) or set(payload) - {"forge", "username"}:
        return error("Send a JSON object with forge and username only.", 400)
    if not all(isinstance(payload.get(name), str) for name in ("forge", "username")):
        return error("Send forge (github, gitlab or codeberg) and username, as strings.", 400)
    try:
        services.check_open(found)
        services.check_forge_allowed(found)
        forge.count_attempt(client_ip(request))
        challenge = forge.new_challenge(
            *services.forge_scope(found), payload["forge"], payload["username"]
        )
    except services.PledgeError as exc:
        return error(str(exc), exc.status)
    except forge.ForgeError as exc:
        return error(str(exc), 400)
    return challenge_response(challenge)
