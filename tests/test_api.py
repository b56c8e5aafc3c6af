"""The JSON API v1, a stable interface: letters, counts, public signatories, signing, and the
OpenAPI document that describes it (checked against the URL patterns, both ways)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import Resolver404, URLResolver, get_resolver, resolve
from django.utils import timezone

from tests.conftest import drain, last_token, settle
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Signature

API = "/api/v1"
LETTER_URL = f"{API}/letters/clean-air"
COUNT_URL = f"{LETTER_URL}/count"
SIGNATURES_URL = f"{LETTER_URL}/signatures"
OPENAPI_URL = f"{API}/openapi.json"
ACCEPTED = {"status": "pending_confirmation"}


def sign(client, url=SIGNATURES_URL, **fields):
    return client.post(url, fields, content_type="application/json")


def sign_and_confirm(client, name, display="public"):
    email = f"{name.lower().replace(' ', '.')}@example.org"
    response = sign(client, name=name, email=email, display=display, affiliation=f"{name} & Co")
    assert response.status_code == 202
    confirmed = client.post(f"/v/{last_token()}")
    assert confirmed.status_code == 200
    assert b"your signature is confirmed" in confirmed.content


def assert_json_error(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


def max_age(response) -> int:
    match = re.search(r"\bmax-age=(\d+)\b", response.get("Cache-Control", ""))
    assert match, f"no max-age in Cache-Control: {response.get('Cache-Control')!r}"
    return int(match.group(1))


# --- GET /api/v1/letters/<slug> ---------------------------------------------------------------


def test_it_describes_a_published_letter(client, letter):
    response = client.get(LETTER_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["slug"] == "clean-air"
    assert body["title"] == "Clean air for Riverside"
    assert body["status"] == "open"
    assert body["signature_count"] == 0
    assert body["verified_count"] == 0
    letter.refresh_from_db()
    assert datetime.fromisoformat(body["updated_at"]) == letter.updated_at
    assert max_age(response) > 0


def test_it_describes_a_closed_letter_as_closed(client, closed_letter):
    response = client.get(f"{API}/letters/closed-letter")

    assert response.status_code == 200
    assert response.json()["status"] == "closed"


def test_it_describes_an_open_letter_past_its_deadline_as_closed(client, letter):
    Letter.objects.filter(pk=letter.pk).update(deadline=timezone.now() - timedelta(minutes=1))

    assert client.get(LETTER_URL).json()["status"] == "closed"


@pytest.mark.parametrize("path", ["", "/count", "/signatures"])
@pytest.mark.parametrize("slug", ["no-such-letter", "draft-letter"])
def test_it_answers_404_json_for_unknown_and_draft_letters(client, draft_letter, slug, path):
    body = assert_json_error(client.get(f"{API}/letters/{slug}{path}"), 404)

    assert slug in body["error"]
    assert draft_letter.title not in str(body)


def test_it_answers_404_json_for_an_address_outside_the_api(client, db):
    body = assert_json_error(client.get(f"{API}/no-such-thing"), 404)

    assert body == {"error": "There is nothing at this address."}


# --- GET /api/v1/letters/<slug>/count ---------------------------------------------------------


def test_it_returns_the_counts_alone_with_a_cache_lifetime(client, letter):
    response = client.get(COUNT_URL)

    assert response.status_code == 200
    assert response.json() == {
        "signature_count": 0,
        "verified_count": 0,
        "held_count": 0,
        "counted_at": None,
    }
    assert "public" in response["Cache-Control"]
    assert max_age(response) > 0


def test_it_counts_a_signature_once_it_is_confirmed_and_counted(client, letter):
    sign_and_confirm(client, "Ada Lovelace")
    assert client.get(COUNT_URL).json()["signature_count"] == 0  # the counter has not run

    drain()

    body = client.get(COUNT_URL).json()
    assert body["signature_count"] == 1
    assert body["verified_count"] == 0
    assert datetime.fromisoformat(body["counted_at"]) <= timezone.now()
    assert client.get(LETTER_URL).json()["signature_count"] == 1


# --- GET /api/v1/letters/<slug>/signatures ----------------------------------------------------

PUBLIC = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"]


@pytest.fixture
def signatories(client, letter):
    """Five confirmed public signatures, one hidden, one counted only and one pending."""
    for name in PUBLIC:
        sign_and_confirm(client, name)
    sign_and_confirm(client, "Hidden Hannah", display="hidden")
    sign_and_confirm(client, "Counted Carl", display="count")
    assert sign(client, name="Pending Pia", email="pia@example.org").status_code == 202
    return PUBLIC


def test_it_lists_every_public_signatory_exactly_once_across_pages(client, signatories):
    seen, pages, cursor = [], 0, None
    while True:
        query = {"limit": 2} if cursor is None else {"limit": 2, "after": cursor}
        response = client.get(SIGNATURES_URL, query)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        assert len(body["signatures"]) <= 2
        seen += [row["name"] for row in body["signatures"]]
        cursor = body["next"]
        if cursor is None:
            break
        assert pages < 10, "the cursor never ends"

    assert pages == 3  # five named and one hidden: six entries
    assert sorted(name for name in seen if name) == sorted(signatories)
    assert seen.count(None) == 1  # the hidden signer, listed without a name


def test_it_lists_only_confirmed_public_signatories_and_only_their_public_fields(
    client, signatories
):
    response = client.get(SIGNATURES_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    named = [row for row in body["signatures"] if row["name"] is not None]
    assert sorted(row["name"] for row in named) == sorted(signatories)
    [withheld] = [row for row in body["signatures"] if row["name"] is None]
    assert withheld == {
        "name": None,
        "affiliation": None,
        "comment": None,
        "department": "",
        "verified_domain": None,
        "forge": None,
        "verification": None,
    }
    assert {tuple(sorted(row)) for row in body["signatures"]} == {
        ("affiliation", "comment", "department", "forge", "name", "verification", "verified_domain")
    }
    text = response.content.decode()
    for secret in ["Hidden Hannah", "Counted Carl", "Pending Pia", "@example.org"]:
        assert secret not in text
    assert max_age(response) > 0


@pytest.mark.parametrize(
    "query",
    [
        "after=abc",
        "after=-1",
        "after=1.5",
        f"after={2**62}",
        "limit=0",
        "limit=201",
        "limit=-3",
        "limit=ten",
        "limit=" + "9" * 5000,
    ],
)
def test_it_rejects_a_bad_cursor_or_limit_with_400_json(client, letter, query):
    assert_json_error(client.get(f"{SIGNATURES_URL}?{query}"), 400)


# --- POST /api/v1/letters/<slug>/signatures ---------------------------------------------------


def test_it_accepts_a_signature_and_mails_a_confirmation_link(client, letter):
    response = sign(
        client,
        name="Ada Lovelace",
        email="Ada@Example.org",
        affiliation="Analytical Engines",
        department="Research",
        comment="Yes.",
        display="hidden",
    )

    assert response.status_code == 202
    assert response.json() == ACCEPTED
    # The request only took it in: the worker records it and queues the mail.
    assert not Signature.objects.exists() and not OutgoingEmail.objects.exists()
    settle()
    signature = Signature.objects.get()
    assert signature.letter == letter
    assert signature.status == Signature.Status.PENDING
    # Hidden, and no organizer has a key to seal it to: the name is not kept at all.
    assert (signature.name, signature.affiliation, signature.department, signature.comment) == (
        "",
        "",
        "Research",
        "",
    )
    assert signature.sealed is None
    assert signature.display == Signature.Display.HIDDEN
    assert signature.email_hash == letter.email_hash("ada@example.org")
    mail = OutgoingEmail.objects.get()
    assert (mail.kind, mail.to) == ("confirm", "Ada@example.org")
    assert f"/v/{last_token()}" in mail.body_text


def test_it_defaults_the_display_choice_to_public(client, letter):
    assert sign(client, name="Ada Lovelace", email="ada@example.org").status_code == 202
    settle()
    assert Signature.objects.get().display == Signature.Display.PUBLIC


def test_it_answers_the_same_whatever_the_emails_history(client, letter):
    fields = {"name": "Ada Lovelace", "email": "ada@example.org"}

    new = sign(client, **fields)
    pending = sign(client, **{**fields, "name": "Ada King"})
    client.post(f"/v/{last_token()}")
    confirmed = sign(client, **fields)
    settle()

    answers = {(r.status_code, r.content, r["Content-Type"]) for r in (new, pending, confirmed)}
    assert answers == {(202, b'{"status": "pending_confirmation"}', "application/json")}
    kinds = list(OutgoingEmail.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["confirm", "confirm", "already-signed"]
    signature = Signature.objects.get()
    assert signature.status == Signature.Status.CONFIRMED
    assert signature.name == "Ada King"  # the pending re-sign replaced the details
    drain()
    assert client.get(COUNT_URL).json()["signature_count"] == 1


def test_it_signs_without_a_csrf_token(db, letter):
    client = Client(enforce_csrf_checks=True)

    response = sign(client, name="Ada Lovelace", email="ada@example.org")

    assert response.status_code == 202
    settle()
    assert Signature.objects.count() == 1


def test_it_rejects_bad_input_with_a_message_per_field(client, letter):
    response = sign(client, name="", email="not-an-email", display="loud")

    body = assert_json_error(response, 400)
    assert body["fields"] == {
        "name": ["This field is required."],
        "email": ["Enter a valid email address."],
        "display": ["Select a valid choice. loud is not one of the available choices."],
    }
    assert not Signature.objects.exists()
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize("slug", ["no-such-letter", "draft-letter"])
def test_it_answers_404_json_for_signing_an_unknown_or_draft_letter(client, draft_letter, slug):
    response = sign(client, f"{API}/letters/{slug}/signatures", name="Ada", email="a@example.org")

    assert_json_error(response, 404)
    assert not Signature.objects.exists()
    assert not OutgoingEmail.objects.exists()


def test_it_answers_409_json_for_signing_a_closed_letter(client, closed_letter):
    response = sign(
        client, f"{API}/letters/closed-letter/signatures", name="Ada", email="a@example.org"
    )

    body = assert_json_error(response, 409)
    assert "closed" in body["error"]
    assert not Signature.objects.exists()
    assert not OutgoingEmail.objects.exists()


def test_it_answers_409_json_for_signing_a_letter_past_its_deadline(client, letter):
    Letter.objects.filter(pk=letter.pk).update(deadline=timezone.now() - timedelta(minutes=1))

    assert_json_error(sign(client, name="Ada", email="a@example.org"), 409)
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    ("url", "method", "allow"),
    [
        (LETTER_URL, "post", "GET, HEAD"),
        (LETTER_URL, "put", "GET, HEAD"),
        (LETTER_URL, "delete", "GET, HEAD"),
        (COUNT_URL, "post", "GET, HEAD"),
        (COUNT_URL, "patch", "GET, HEAD"),
        (SIGNATURES_URL, "put", "GET, HEAD, POST"),
        (SIGNATURES_URL, "patch", "GET, HEAD, POST"),
        (SIGNATURES_URL, "delete", "GET, HEAD, POST"),
        (SIGNATURES_URL, "options", "GET, HEAD, POST"),
    ],
)
def test_it_answers_405_json_for_other_methods(client, letter, url, method, allow):
    response = call(client, method, url)

    body = assert_json_error(response, 405)
    assert method.upper() in body["error"]
    assert response["Allow"] == allow
    assert not Signature.objects.exists()


def test_it_answers_405_json_for_writing_to_the_openapi_document(client, db):
    assert_json_error(client.post(OPENAPI_URL, {}, content_type="application/json"), 405)


# --- /api/v1/openapi.json ---------------------------------------------------------------------

SAMPLE = {"slug": "clean-air", "pk": "1"}
METHODS = ["get", "post", "put", "patch", "delete", "options"]


def openapi_path(route: str) -> str:
    """``api/v1/letters/<slug:slug>`` as OpenAPI spells it: ``/api/v1/letters/{slug}``."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def api_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route

    return {
        openapi_path(route)
        for route in walk(get_resolver().url_patterns)
        if route.startswith("api/v1/") and route != "api/v1/openapi.json"
    }


def call(client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, {}, content_type="application/json")


def sample_url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "sample-1"), path)


@pytest.fixture
def document(client, db):
    response = client.get(OPENAPI_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_it_publishes_an_openapi_3_document(document):
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"] == "1"
    assert document["paths"]


def test_it_documents_only_paths_that_exist(document):
    for path in document["paths"]:
        try:
            match = resolve(sample_url(path))
        except Resolver404:
            pytest.fail(f"{path} is documented but no URL pattern serves it")
        assert openapi_path(match.route) == path, f"{path} resolves to {match.route}"
        assert match.namespace == "api"


def test_it_documents_every_api_path(document):
    assert api_routes(), "no /api/v1/ URL patterns found: the walk is broken"
    undocumented = api_routes() - set(document["paths"])

    assert not undocumented, f"views without documentation: {sorted(undocumented)}"


def test_it_documents_exactly_the_methods_each_view_accepts(client, letter, document):
    for path, operations in document["paths"].items():
        url = sample_url(path)
        accepted = {method for method in METHODS if call(client, method, url).status_code != 405}
        documented = set(operations) & set(METHODS)
        assert accepted == documented, f"{path}: accepts {accepted}, documents {documented}"


def test_it_resolves_every_schema_reference(document):
    schemas = document["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(document["paths"])) + list(refs(schemas))
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_it_answers_in_the_shapes_the_document_describes(client, signatories, document):
    schemas = document["components"]["schemas"]

    def assert_shape(body, name):
        schema = schemas[name]
        assert set(schema["required"]) <= set(body), name
        assert set(body) <= set(schema["properties"]), name

    assert_shape(client.get(LETTER_URL).json(), "Letter")
    assert_shape(client.get(COUNT_URL).json(), "Count")
    assert_shape(client.get(f"{LETTER_URL}/timeline").json(), "Timeline")
    page = client.get(SIGNATURES_URL).json()
    assert_shape(page, "SignaturePage")
    for row in page["signatures"]:
        assert_shape(row, "PublicSignature")
    from undersigned.letters import timeline

    letter = Letter.objects.get(slug="clean-air")
    timeline.post_update(letter, "News.", via="command")
    timeline.record_response(
        letter,
        by="Pat",
        said_on=letter.published_at.date(),
        quote="No.",
        sources=["https://example.com/"],
        via="command",
    )
    timeline.set_demand_status(
        timeline.add_demand(letter, "Stop", via="command"), "met", via="command"
    )
    events = client.get(f"{LETTER_URL}/events?limit=3").json()
    assert_shape(events, "EventPage")
    assert len(events["events"]) == 3 and events["next"]
    for entry in events["events"] + client.get(events["next_url"]).json()["events"]:
        assert_shape(entry, "Event")
    for version in client.get(LETTER_URL).json()["versions"]:
        assert_shape(version, "Version")
    for demand in client.get(LETTER_URL).json()["demands"]:
        assert_shape(demand, "Demand")
    assert_shape(sign(client, name="Zed", email="zed@example.org").json(), "Accepted")
    assert_shape(sign(client, name="", email="").json(), "ValidationError")
    assert_shape(client.get(f"{API}/letters/nope").json(), "Error")
    from undersigned.api.views import FIELDS, FORGE_FIELDS

    assert set(schemas["SignatureInput"]["properties"]) == set(FIELDS + FORGE_FIELDS)
    assert {"name", "email", "affiliation", "department", "comment", "display"} <= set(FIELDS)
