"""Bad input, one test per kind, through both ways of signing: the HTML form at /l/<slug>/ and
``POST /api/v1/letters/<slug>/signatures``. Each bad input is refused with a message a person can
act on, writes no Signature and no OutgoingEmail row, and never answers 500. Then the
confirmation link: expired, reused, replaced, random."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from tests.conftest import drain, last_token, settle
from undersigned.letters import services as letter_services
from undersigned.letters.models import Letter
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import CountDelta, Signature

VALID = {"name": "Ada Lovelace", "email": "ada@example.org"}


class Form:
    """The letter page's form, posted as a browser posts it (URL-encoded)."""

    content_type = "application/x-www-form-urlencoded"

    def url(self, slug: str) -> str:
        return f"/l/{slug}/"

    def encode(self, fields: dict) -> bytes:
        return urlencode(fields).encode("ascii")

    def sign(self, client, slug="clean-air", **fields):
        return self.post_raw(client, self.encode(fields), slug)

    def post_raw(self, client, body: bytes, slug="clean-air"):
        return client.post(self.url(slug), body, content_type=self.content_type)

    def assert_accepted(self, response, slug="clean-air"):
        assert response.status_code == 302
        assert response["Location"] == f"/l/{slug}/signed/"

    def assert_rejected(self, response, field: str, message: str):
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert message in response.context["form"].errors[field]
        html = response.content.decode()
        assert "Please correct the fields marked below." in html
        assert escape(message) in html
        if field != "display":
            assert f'id="id_{field}_error"' in html

    def assert_not_found(self, response):
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")
        assert b"There is nothing at this address." in response.content

    def assert_closed(self, response):
        assert response.status_code == 409
        assert response["Content-Type"].startswith("text/html")
        assert b"This letter is closed and no longer takes signatures." in response.content
        assert b'name="email"' not in response.content  # no form to fill in again

    def assert_too_large(self, response):
        assert response.status_code == 413
        assert response["Content-Type"].startswith("text/html")
        assert b"<h1>Too large</h1>" in response.content
        assert f"the limit is {settings.MAX_REQUEST_BYTES} bytes".encode() in response.content


class Api:
    """``POST /api/v1/letters/<slug>/signatures`` with a JSON object."""

    content_type = "application/json"

    def url(self, slug: str) -> str:
        return f"/api/v1/letters/{slug}/signatures"

    def encode(self, fields: dict) -> bytes:
        return json.dumps(fields).encode("utf-8")

    def sign(self, client, slug="clean-air", **fields):
        return self.post_raw(client, self.encode(fields), slug)

    def post_raw(self, client, body: bytes, slug="clean-air"):
        return client.post(self.url(slug), body, content_type=self.content_type)

    def assert_accepted(self, response, slug="clean-air"):
        assert response.status_code == 202
        assert response.json() == {"status": "pending_confirmation"}

    def error(self, response, status: int) -> dict:
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert isinstance(body["error"], str) and body["error"]
        return body

    def assert_rejected(self, response, field: str, message: str):
        body = self.error(response, 400)
        assert message in body["fields"][field]

    def assert_not_found(self, response):
        self.error(response, 404)

    def assert_closed(self, response):
        assert "closed" in self.error(response, 409)["error"]

    def assert_too_large(self, response):
        assert str(settings.MAX_REQUEST_BYTES) in self.error(response, 413)["error"]


@pytest.fixture(params=[Form(), Api()], ids=["form", "api"])
def channel(request, letter):
    return request.param


@pytest.fixture
def api(letter):
    return Api()


@pytest.fixture
def form(letter):
    return Form()


def assert_nothing_written():
    assert list(Signature.objects.all()) == []
    assert list(OutgoingEmail.objects.all()) == []


def control_message(char: str) -> str:
    if char == "\x00":
        return "Null characters are not allowed."
    return f"Remove the invisible control character (U+{ord(char):04X}) from this field."


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   "], ids=["empty", "blank"])
def test_it_rejects_an_empty_name(client, channel, name):
    response = channel.sign(client, **{**VALID, "name": name})

    channel.assert_rejected(response, "name", "This field is required.")
    assert_nothing_written()


def test_it_rejects_a_name_of_10000_characters(client, channel):
    response = channel.sign(client, **{**VALID, "name": "A" * 10_000})

    channel.assert_rejected(
        response, "name", "Ensure this value has at most 200 characters (it has 10000)."
    )
    assert_nothing_written()


# --- emails -----------------------------------------------------------------------------------


def test_it_rejects_an_empty_email(client, channel):
    response = channel.sign(client, **{**VALID, "email": ""})

    channel.assert_rejected(response, "email", "This field is required.")
    assert_nothing_written()


@pytest.mark.parametrize(
    "email", ["ada", "ada@", "@example.org", "ada@@example.org", "ada lovelace@example.org"]
)
def test_it_rejects_an_invalid_email(client, channel, email):
    response = channel.sign(client, **{**VALID, "email": email})

    channel.assert_rejected(response, "email", "Enter a valid email address.")
    assert_nothing_written()


def test_it_rejects_an_email_of_300_characters(client, channel):
    email = "a" * (300 - len("@example.org")) + "@example.org"

    response = channel.sign(client, **{**VALID, "email": email})

    channel.assert_rejected(
        response, "email", "Ensure this value has at most 254 characters (it has 300)."
    )
    assert_nothing_written()


@pytest.mark.parametrize("email", ["jürgen@example.org", "иван@example.org"])
def test_it_explains_why_it_rejects_a_non_ascii_part_before_the_at(client, channel, email):
    response = channel.sign(client, **{**VALID, "email": email})

    channel.assert_rejected(
        response,
        "email",
        "Use an address whose part before the @ has only plain (ASCII) letters, digits and "
        "punctuation: mail to other addresses may not arrive.",
    )
    assert_nothing_written()


def test_it_rejects_a_unicode_domain_that_has_no_ascii_form(client, channel):
    # Each label passes Django's pattern, but its punycode is longer than DNS allows.
    response = channel.sign(client, **{**VALID, "email": "ada@" + "ü" * 60 + ".example"})

    channel.assert_rejected(response, "email", "The domain of this email address is not valid.")
    assert_nothing_written()


def test_it_accepts_an_idn_domain_and_mails_its_punycode_form(client, channel, smtp_server):
    response = channel.sign(client, **{**VALID, "email": "ada@bücher.example"})

    channel.assert_accepted(response)
    settle()
    signature = Signature.objects.get()
    assert signature.email_hash == signature.letter.email_hash("ada@xn--bcher-kva.example")
    assert OutgoingEmail.objects.get().kind == "confirm"
    drain()
    [(recipients, message)] = smtp_server.wait_for(1)
    assert recipients == ["ada@xn--bcher-kva.example"]


def test_it_takes_unicode_and_punycode_spellings_of_a_domain_as_one_signer(client, channel):
    channel.assert_accepted(channel.sign(client, **{**VALID, "email": "ada@bücher.example"}))
    assert client.post(f"/v/{last_token()}").status_code == 200

    again = channel.sign(client, **{**VALID, "email": "ADA@xn--bcher-kva.example"})

    channel.assert_accepted(again)
    settle()
    assert Signature.objects.count() == 1
    kinds = list(OutgoingEmail.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["confirm", "already-signed"]


# --- invisible characters and choices ---------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\x07", "\u202e"], ids=["nul", "bell", "rtl-override"])
@pytest.mark.parametrize("field", ["name", "affiliation", "department", "comment"])
def test_it_rejects_control_characters_in_text(client, channel, field, char):
    response = channel.sign(client, **{**VALID, field: f"Ada{char}Lovelace"})

    channel.assert_rejected(response, field, control_message(char))
    assert_nothing_written()


def test_it_rejects_a_lone_surrogate_in_json(client, api):
    body = b'{"name": "Ada \\ud800", "email": "ada@example.org"}'

    api.assert_rejected(api.post_raw(client, body), "name", control_message("\ud800"))
    assert_nothing_written()


def test_it_keeps_line_breaks_and_tabs_in_a_comment(client, channel):
    response = channel.sign(client, **{**VALID, "comment": "One.\r\nTwo.\tThree."})

    channel.assert_accepted(response)
    settle()
    assert Signature.objects.get().comment == "One.\nTwo.\tThree."


def test_it_rejects_a_display_choice_it_does_not_offer(client, channel):
    response = channel.sign(client, **{**VALID, "display": "everywhere"})

    channel.assert_rejected(
        response,
        "display",
        "Select a valid choice. everywhere is not one of the available choices.",
    )
    assert_nothing_written()


# --- bodies that are not text, not JSON, not an object ----------------------------------------


def test_it_rejects_an_api_body_that_is_not_utf8(client, api):
    body = b'\xff\xfe{"name": "Ada", "email": "ada@example.org"}'

    response = api.post_raw(client, body)

    assert api.error(response, 400) == {"error": "The request body is not UTF-8 text."}
    assert_nothing_written()


def test_it_rerenders_the_form_for_a_body_that_is_not_utf8(client, form):
    response = form.post_raw(client, b"\xff\xfe\x00\x01\x80")

    form.assert_rejected(response, "name", "This field is required.")
    form.assert_rejected(response, "email", "This field is required.")
    assert_nothing_written()


def test_it_reads_a_latin1_form_body_as_latin1_like_django_does(client, form):
    # Django falls back to ISO-8859-1 for form bodies that are not UTF-8 (old browsers sent
    # it): the signature goes through with what the bytes mean in Latin-1, not a 500.
    response = form.post_raw(client, b"name=Andr\xe9+M\xfcller&email=andre%40example.org")

    form.assert_accepted(response)
    settle()
    assert Signature.objects.get().name == "André Müller"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"{'name': 'Ada'}", '\ufeff{"name": "Ada"}'.encode(), b'{"name": "Ada",}'],
    ids=["empty", "unclosed", "single-quotes", "bom", "trailing-comma"],
)
def test_it_rejects_an_api_body_that_is_not_json(client, api, body):
    response = api.post_raw(client, body)

    assert api.error(response, 400) == {"error": "The request body is not valid JSON."}
    assert_nothing_written()


@pytest.mark.parametrize(
    "body", [b"[]", b'["Ada", "ada@example.org"]', b'"Ada"', b"null", b"42", b"true"]
)
def test_it_rejects_a_json_body_that_is_not_an_object(client, api, body):
    response = api.post_raw(client, body)

    assert api.error(response, 400) == {
        "error": "Send a JSON object with the signing form's fields."
    }
    assert_nothing_written()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 42),
        ("name", None),
        ("name", ["Ada"]),
        ("email", {"a": 1}),
        ("display", True),
        ("updates", "yes"),
        ("updates", 1),
        ("version", "1"),
        ("version", True),
        ("version", 1.5),
    ],
)
def test_it_rejects_json_values_of_the_wrong_type(client, api, field, value):
    response = api.sign(client, **{**VALID, field: value})

    assert api.error(response, 400)["error"].startswith("Every field must be a string")
    assert_nothing_written()


def test_it_names_the_fields_whose_json_values_are_not_strings(client, api):
    response = api.sign(client, **{**VALID, "name": 42})

    assert api.error(response, 400)["fields"] == {"name": ["Must be a string."]}


@pytest.mark.parametrize("extra", [{"website": "x"}, {"Name": "Ada"}, {"email_hash": "0" * 64}])
def test_it_rejects_unknown_json_fields(client, api, extra):
    response = api.sign(client, **VALID, **extra)

    body = api.error(response, 400)
    assert body["fields"] == {key: ["Unknown field."] for key in extra}
    assert_nothing_written()


def test_it_rejects_deeply_nested_json(client, api):
    response = api.post_raw(client, b"[" * 60_000)

    assert api.error(response, 400)
    assert_nothing_written()


# --- CSRF -------------------------------------------------------------------------------------


def test_it_answers_an_organizer_form_post_without_csrf_token_with_a_403_page(organizer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(organizer)

    response = client.post("/organize/new/", {"title": "T", "slug": "t", "body": "B"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>Not allowed</h1>" in html
    assert "The form expired or came from another site." in html
    assert "Traceback" not in html and "CSRF verification failed" not in html
    assert not Letter.objects.filter(slug="t").exists()


def test_a_signer_needs_neither_cookie_nor_token(letter, form):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/l/clean-air/")
    assert page.status_code == 200 and not page.cookies  # nothing per visitor: cacheable

    response = form.sign(Client(enforce_csrf_checks=True), **VALID)

    form.assert_accepted(response)
    settle()
    assert Signature.objects.count() == 1


# --- letters that cannot be signed ------------------------------------------------------------


@pytest.mark.parametrize("slug", ["no-such-letter", "draft-letter"])
def test_it_answers_404_for_an_unknown_or_draft_letter(client, channel, draft_letter, slug):
    response = channel.sign(client, slug=slug, **VALID)

    channel.assert_not_found(response)
    assert draft_letter.title.encode() not in response.content
    assert_nothing_written()


def test_it_refuses_to_sign_a_closed_letter(client, channel, closed_letter):
    response = channel.sign(client, slug="closed-letter", **VALID)

    channel.assert_closed(response)
    assert_nothing_written()


# --- size -------------------------------------------------------------------------------------


def body_of_size(channel, size: int) -> bytes:
    """A signing body of exactly ``size`` bytes, padded in the comment."""
    empty = len(channel.encode({**VALID, "comment": ""}))
    body = channel.encode({**VALID, "comment": "x" * (size - empty)})
    assert len(body) == size
    return body


def test_it_refuses_a_body_over_the_size_limit_with_413(client, channel):
    response = channel.post_raw(client, body_of_size(channel, settings.MAX_REQUEST_BYTES + 1))

    channel.assert_too_large(response)
    assert_nothing_written()


def test_it_reads_a_body_exactly_at_the_size_limit(client, channel):
    size = settings.MAX_REQUEST_BYTES
    empty = len(channel.encode({**VALID, "comment": ""}))

    response = channel.post_raw(client, body_of_size(channel, size))

    channel.assert_rejected(
        response,
        "comment",
        f"Ensure this value has at most 1000 characters (it has {size - empty}).",
    )
    assert_nothing_written()


# --- confirmation links -----------------------------------------------------------------------


@pytest.fixture
def token(client, letter):
    """The link token of one pending signature, signed through the form."""
    Form().assert_accepted(Form().sign(client, **VALID))
    return last_token()


def counted(letter) -> int:
    drain()
    letter.refresh_from_db()
    return letter.signature_count


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_an_expired_confirmation_link(client, letter, token, method):
    later = timezone.now() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS + 1, minutes=1)

    with time_machine.travel(later, tick=False):
        response = getattr(client, method)(f"/v/{token}")

    assert response.status_code == 410
    assert b"This confirmation link has expired." in response.content
    assert Signature.objects.get().status == Signature.Status.PENDING
    assert not CountDelta.objects.exists()
    assert counted(letter) == 0


def test_it_still_confirms_a_minute_before_the_link_expires(client, letter, token):
    almost = timezone.now() + timedelta(hours=settings.CONFIRMATION_TTL_HOURS, minutes=-1)

    with time_machine.travel(almost, tick=False):
        response = client.post(f"/v/{token}")

    assert response.status_code == 200
    assert b"your signature is confirmed" in response.content
    assert counted(letter) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_shows_the_confirmed_page_again_for_a_reused_link(client, letter, token, method):
    assert client.post(f"/v/{token}").status_code == 200

    response = getattr(client, method)(f"/v/{token}")

    assert response.status_code == 200
    assert b"Thank you: your signature is confirmed" in response.content
    assert b"<form" not in response.content.split(b"<main", 1)[1]  # no second Confirm button
    assert CountDelta.objects.count() == 1
    assert counted(letter) == 1


def test_it_shows_a_confirm_button_and_changes_nothing_on_get(client, letter, token):
    response = client.get(f"/v/{token}")

    assert response.status_code == 200
    assert b"<h1>Confirm your signature</h1>" in response.content
    assert Signature.objects.get().status == Signature.Status.PENDING
    assert counted(letter) == 0


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "random_token",
    [secrets.token_urlsafe(32), "x" * 5000, "%FF%FE", "%00", "..%5C..%5Cetc"],
    ids=["random", "long", "not-utf8", "nul", "dots"],
)
def test_it_answers_404_for_a_random_token(client, letter, token, method, random_token):
    response = getattr(client, method)(f"/v/{random_token}")

    assert response.status_code == 404
    assert b"This confirmation link is not valid." in response.content
    assert Signature.objects.get().status == Signature.Status.PENDING
    assert counted(letter) == 0


def test_an_earlier_link_stays_valid_after_a_newer_one_and_the_other_then_changes_nothing(
    client, letter, token
):
    Form().assert_accepted(Form().sign(client, **VALID))
    newer = last_token()
    assert newer != token

    assert client.get(f"/v/{token}").status_code == 200
    assert client.post(f"/v/{token}").status_code == 200
    assert client.post(f"/v/{newer}").status_code == 200  # "already confirmed"
    assert counted(letter) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_a_link_for_a_letter_that_closed_meanwhile(client, letter, token, method):
    letter_services.close(Letter.objects.get(pk=letter.pk), via="command")

    response = getattr(client, method)(f"/v/{token}")

    assert response.status_code == 409
    assert b"This letter closed before your signature was confirmed." in response.content
    assert Signature.objects.get().status == Signature.Status.PENDING
    assert counted(letter) == 0


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_answers_405_for_other_methods_on_a_confirmation_link(client, letter, token, method):
    response = getattr(client, method)(f"/v/{token}")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert Signature.objects.get().status == Signature.Status.PENDING
    assert counted(letter) == 0


def test_it_confirms_without_csrf_token_or_cookie(letter, token):
    client = Client(enforce_csrf_checks=True)

    response = client.post(f"/v/{token}")

    assert response.status_code == 200 and not response.cookies
    assert Signature.objects.get().status == Signature.Status.CONFIRMED
