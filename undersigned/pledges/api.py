"""``GET /api/v1/pledges/<slug>`` and ``POST /api/v1/pledges/<slug>/commitments``: thin views
over the same verbs as the page; errors are ``{"error": ...}``."""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from undersigned.api.views import ACCEPTED, api_view, error
from undersigned.pledges import services
from undersigned.pledges.forms import CommitmentForm
from undersigned.pledges.models import Pledge
from undersigned.web.caching import cached_response

FIELDS = ("name", "email", "affiliation", "department", "comment", "display", "public_after")


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
    unknown = sorted(set(payload) - set(FIELDS))
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
    form = CommitmentForm(payload, pledge=found)
    if not form.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        return error("Some fields need attention.", 400, fields=fields)
    try:
        services.commit(found, form.commitment_data())
    except services.PledgeError as exc:
        return error(str(exc), exc.status)
    return HttpResponse(ACCEPTED, content_type="application/json", status=202)
