"""API tokens and the organizer API (``/api/v1/organize/``): each endpoint with read and write
tokens, a token for another letter, expired and revoked tokens, the token command, and no
token in the database or the logs in plain text."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.conftest import make_letter, settle
from undersigned.accounts import factors, tokens
from undersigned.accounts.models import ApiToken
from undersigned.events.models import Event
from undersigned.letters.models import Demand, Letter

API = "/api/v1/organize"


@pytest.fixture(autouse=True)
def _organizers_have_a_factor(organizer, co_organizer):
    for user in (organizer, co_organizer):
        device = factors.start_totp(user)
        device.confirmed = True
        device.save()


def token_for(user, scope="write", letter=None, **options) -> str:
    out = io.StringIO()
    args = ["token", "create", user.username, "--scope", scope]
    if letter is not None:
        args += ["--letter", letter.slug]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def call(method: str, path: str, token: str | None, body=None) -> tuple[int, dict | bytes]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client()
    if method == "GET":
        response = client.get(API + path, **headers)
    else:
        response = client.post(
            API + path, json.dumps(body or {}), content_type="application/json", **headers
        )
    if response.get("Content-Type", "").startswith("application/json"):
        return response.status_code, response.json()
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, content


def test_the_command_prints_a_token_once_and_keeps_only_its_hash(organizer, letter):
    plain = token_for(organizer, "read", letter, expires_days=7, label="counter")
    assert plain.startswith("us_r_") and len(plain) > 40
    token = ApiToken.objects.get()
    assert token.prefix == plain[:13] and token.letter == letter and token.label == "counter"
    assert token.expires_at.date() == (timezone.now() + timedelta(days=7)).date()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = repr(cursor.fetchall())
    assert plain not in stored and plain[13:] not in stored and plain[13:30] not in stored
    assert (
        token.token_hash != tokens.token_hash(plain).hex()
        if hasattr(tokens, "token_hash")
        else True
    )
    assert Event.objects.filter(kind="token.created", letter=letter).count() == 1
    assert plain not in str(list(Event.objects.values()))
    listed = io.StringIO()
    call_command("token", "list", stdout=listed)
    assert token.prefix in listed.getvalue() and plain not in listed.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--scope", "read"], "no active user"),
        (["olivia", "--scope", "read", "--letter", "nope"], "no letter"),
        (["mallory", "--scope", "read", "--letter", "clean-air"], "does not organize"),
        (["olivia", "--scope", "read", "--expires-days", "0"], "between 1 and"),
    ],
)
def test_the_command_refuses_what_it_cannot_do(organizer, outsider, letter, args, message):
    device = factors.start_totp(outsider)
    device.confirmed = True
    device.save()
    with pytest.raises(CommandError, match=message):
        call_command("token", "create", *args)
    assert not ApiToken.objects.exists()


def test_the_counts_do_not_move_when_an_address_signs(organizer, letter, client):
    """An organizer who types colleagues' addresses into the form, ten at a time, and reads
    the API between tries learns nothing about who had signed before."""
    token = token_for(organizer, "read", letter)
    before = call("GET", f"/letters/{letter.slug}", token)[1]["counts"]
    for i in range(10):
        form = {"name": f"Probe {i}", "email": f"colleague{i}@example.org", "display": "count"}
        url = f"/api/v1/letters/{letter.slug}/signatures"
        assert client.post(url, form, content_type="application/json").status_code == 202
    settle()
    assert call("GET", f"/letters/{letter.slug}", token)[1]["counts"] == before


def test_reading_my_letters_and_their_counts(organizer, letter):
    other = make_letter([organizer], slug="second")
    everything, only_one = token_for(organizer, "read"), token_for(organizer, "read", letter)
    status, body = call("GET", "/letters", everything)
    assert status == 200 and {row["slug"] for row in body["letters"]} == {"clean-air", "second"}
    counts = body["letters"][0]["counts"]
    assert set(counts) == {"confirmed", "verified", "held"}
    status, body = call("GET", "/letters", only_one)
    assert [row["slug"] for row in body["letters"]] == ["clean-air"]
    assert call("GET", f"/letters/{letter.slug}", only_one)[0] == 200
    assert call("GET", f"/letters/{other.slug}", only_one)[0] == 404  # the wrong letter
    assert ApiToken.objects.get(prefix=only_one[:13]).last_used_at.minute == 0  # to the hour


def test_unknown_expired_revoked_and_missing_tokens_get_the_same_401(organizer, letter):
    good = token_for(organizer, "read", expires_days=1)
    revoked = token_for(organizer, "read")
    tokens.revoke(ApiToken.objects.get(prefix=revoked[:13]), via="command")
    answers = {
        "none": call("GET", "/letters", None),
        "unknown": call("GET", "/letters", "us_r_00000000" + "x" * 43),
        "mistyped": call("GET", "/letters", good[:-1] + ("A" if good[-1] != "A" else "B")),
        "revoked": call("GET", "/letters", revoked),
        "garbage": call("GET", "/letters", "not a token at all"),
    }
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        answers["expired"] = call("GET", "/letters", good)
    assert len({json.dumps(answer) for answer in answers.values()}) == 1
    assert answers["none"][0] == 401
    assert call("GET", "/letters", good)[0] == 200


def test_a_token_is_never_taken_from_the_query_string(organizer, letter):
    plain = token_for(organizer, "read")
    response = Client().get(f"{API}/letters?token={plain}")
    assert response.status_code == 400 and "Authorization header" in response.json()["error"]


WRITES = [
    ("POST", "/letters", {"slug": "new-one", "title": "New", "body": "Text.", "addressed_to": "X"}),
    ("POST", "/letters/draft-letter/publish", {}),
    ("POST", "/letters/clean-air/close", {}),
    ("POST", "/letters/clean-air/updates", {"body": "News from the API."}),
    (
        "POST",
        "/letters/clean-air/responses",
        {"by": "Council", "date": "2026-05-01", "quote": "No.", "sources": ["https://e.example/"]},
    ),
    ("POST", "/letters/clean-air/demands/{demand}", {"status": "met", "note": "Done."}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[w[1] for w in WRITES])
def test_each_act_needs_a_write_token_and_does_what_the_page_does(
    organizer, letter, draft_letter, method, path, body
):
    demand = Demand.objects.create(letter=letter, text="Clean the air.")
    path = path.format(demand=demand.pk)
    read, write = token_for(organizer, "read"), token_for(organizer, "write")
    before = Event.objects.count()
    status, answer = call(method, path, read, body)
    assert status == 403 and "only read" in answer["error"]
    assert Event.objects.count() == before  # nothing was done
    status, answer = call(method, path, write, body)
    assert status in (200, 201), answer
    assert Event.objects.filter(via="api").exists()
    letter.refresh_from_db()
    draft_letter.refresh_from_db()
    if path.endswith("/close"):
        assert letter.status == "closed"
    if path.endswith("/publish"):
        assert draft_letter.status == "open"
    if path == "/letters":
        assert Letter.objects.get(slug="new-one").status == "draft"


def test_a_write_token_for_one_letter_cannot_touch_another(organizer, letter):
    other = make_letter([organizer], slug="second")
    plain = token_for(organizer, "write", letter)
    status, _ = call("POST", f"/letters/{other.slug}/close", plain)
    assert status == 404
    other.refresh_from_db()
    assert other.status == "open"
    status, answer = call("POST", "/letters", plain, WRITES[0][2])
    assert status == 403 and not Letter.objects.filter(slug="new-one").exists()


def test_a_token_acts_within_its_owners_role(organizer, co_organizer, letter):
    from undersigned.letters import organizers as team

    team.change(letter, roles={co_organizer: "editor"}, via="command")
    plain = token_for(co_organizer, "write", letter)
    assert call("POST", f"/letters/{letter.slug}/close", plain)[0] == 403  # owners only
    assert call("POST", f"/letters/{letter.slug}/updates", plain, {"body": "Hi."})[0] == 201


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/letters", {"slug": "Bad Slug!", "title": ""}),
        ("/letters/clean-air/updates", {"body": ""}),
        ("/letters/clean-air/responses", {"by": "X", "date": "yesterday", "quote": "Q"}),
        (
            "/letters/clean-air/responses",
            {"by": "X", "date": "2026-01-01", "quote": "Q", "sources": ["ftp://x"]},
        ),
        ("/letters/clean-air/demands/999999", {"status": "met"}),
        ("/letters/clean-air/demands/1", {"status": "sort-of"}),
    ],
)
def test_bad_input_gets_an_error_a_person_can_act_on(organizer, letter, path, body):
    status, answer = call("POST", path, token_for(organizer, "write"), body)
    assert 400 <= status < 500 and answer["error"]
    raw = Client().post(
        API + path,
        b"{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(organizer, 'write')}",
    )
    assert raw.status_code == 400 and "JSON object" in raw.json()["error"]


def test_the_export_streams_with_hidden_names_still_sealed(organizer, letter):
    plain = token_for(organizer, "read", letter)
    status, content = call("GET", f"/letters/{letter.slug}/export?format=csv", plain)
    assert status == 200 and content.startswith(b"")
    assert Event.objects.filter(kind="letter.exported", via="api").count() == 1
    status, answer = call("GET", f"/letters/{letter.slug}/export?format=xml", plain)
    assert status == 400 and "csv or json" in answer["error"]


def test_no_token_reaches_the_logs(organizer, letter, caplog):
    plain = token_for(organizer, "read")
    with caplog.at_level(logging.DEBUG):
        call("GET", "/letters/nowhere", plain)
        call("GET", "/letters", plain[:-2] + "zz")
        Client().get(f"{API}/letters?token={plain}")
    handler_text = "\n".join(record.getMessage() for record in caplog.records)
    from undersigned.web.logging import redact

    assert plain not in redact(handler_text)


def test_a_page_makes_and_revokes_a_token_shown_once(client, organizer, letter):
    client.force_login(organizer)
    made = client.post(
        "/accounts/tokens/",
        {"label": "bot", "letter": letter.pk, "scope": "write", "expires_days": "30"},
    )
    plain = made.context["token"]
    assert plain.startswith("us_w_") and plain in made.content.decode()
    listing = client.get("/accounts/tokens/").content.decode()
    assert plain not in listing and plain[:13] in listing
    assert call("GET", "/letters", plain)[0] == 200
    token = ApiToken.objects.get()
    bad = client.post("/accounts/tokens/", {"label": "", "scope": "admin", "expires_days": "0"})
    assert bad.status_code == 400 and ApiToken.objects.count() == 1
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    assert call("GET", "/letters", plain)[0] == 401
    assert Event.objects.filter(kind="token.revoked").count() == 1


def test_the_openapi_document_describes_the_organizer_api(client):
    document = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/organize/letters", "/api/v1/organize/letters/{slug}/export"):
        assert path in document["paths"]
    assert "bearer" in json.dumps(document["components"]["securitySchemes"]).lower()
