"""Attacks on signers, the count and an organization's letter, run through the public
interfaces the way an adversary would (issue 12): an employer who reads work mail and wants a
letter to fail, a bot with one mailbox, a stranger who knows a colleague's address."""

from __future__ import annotations

import hypothesis
import pytest
from django.core.mail import EmailMessage
from django.core.mail.message import sanitize_address
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from tests.conftest import make_letter, settle
from undersigned.letters.models import Letter
from undersigned.lib.emails import canonical_email
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Signature

pytestmark = pytest.mark.django_db

API = "/api/v1/letters/{}/signatures"


def api_sign(letter, ip="198.51.100.20", client=None, **fields):
    data = {"name": "Ada Lovelace", "email": "ada@example.org", "display": "public", **fields}
    return (client or Client(REMOTE_ADDR=ip)).post(
        API.format(letter.slug), data, content_type="application/json"
    )


# --- 2. one mailbox, many signatures --------------------------------------------------------


def delivered_mailbox(address: str) -> str:
    """The mailbox a mail server delivers ``address`` to, worked out independently of our
    code from RFC 5321/5322: a quoted local part is its content with backslash escapes
    undone; the part before the @ is matched without regard to case; a sub-address
    (``+tag``, RFC 5233) reaches its base mailbox; the domain is case-insensitive."""
    local, _, domain = address.rpartition("@")
    if local.startswith('"') and local.endswith('"'):
        quoted, local = local[1:-1], ""
        escaped = False
        for char in quoted:
            if escaped or char != "\\":
                local += char
            escaped = not escaped and char == "\\"
    local = local.lower().partition("+")[0] or local.lower()
    return f"{local}@{domain.lower().rstrip('.')}"


def spellings(local: str = "worker", domain: str = "company.example"):
    """Spellings of one mailbox that RFC 5322 allows: case, quotes, backslash escapes,
    sub-addresses, a trailing dot on the domain, comments."""
    case = st.lists(st.booleans(), min_size=len(local), max_size=len(local)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(local, upper, strict=True))
    )

    def quoted(text: str, escapes: list[bool]) -> str:
        return '"' + "".join("\\" + c if e else c for c, e in zip(text, escapes, strict=True)) + '"'

    escapes = st.lists(st.booleans(), min_size=len(local), max_size=len(local))
    local_part = st.one_of(
        case,
        st.builds(quoted, case, escapes),
        st.builds(lambda text, tag: f"{text}+{tag}", case, st.text("abcxyz0123", max_size=6)),
        st.builds(lambda text: f"{text}(comment)", case),
    )
    domain_part = st.sampled_from([domain, domain.upper(), domain + ".", f"[{'192.0.2.1'}]"])
    return st.builds(lambda lp, dp: f"{lp}@{dp}", local_part, domain_part)


@pytest.mark.slow
@hypothesis.settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(addresses=st.lists(spellings(), min_size=1, max_size=8))
def test_one_mailbox_gets_one_signature_whatever_its_spelling(organizer, addresses):
    Letter.objects.filter(slug="one-box").delete()
    OutgoingEmail.objects.all().delete()
    letter = make_letter([organizer], slug="one-box", domains="company.example")
    for address in addresses:
        response = api_sign(letter, email=address)
        if response.status_code == 400:  # refused, with a message for the person
            assert response.json()["fields"]["email"], address
            continue
        assert response.status_code == 202, (address, response.content)
        # Each accepted spelling reaches the one mailbox, as the SMTP layer addresses it...
        settle()
        sent = OutgoingEmail.objects.latest("id")
        message = EmailMessage("s", "b", "from@example.org", [sent.to])
        envelope = [sanitize_address(to, "utf-8") for to in message.recipients()]
        assert [delivered_mailbox(to) for to in envelope] == ["worker@company.example"]
        # ... and names it as we do.
        assert canonical_email(sent.to) == "worker@company.example"
    assert Signature.objects.filter(letter=letter).count() <= 1
    letter.delete()


@pytest.mark.parametrize(
    "address",
    [
        '"worker"@company.example',
        '"w\\orker"@company.example',
        "worker(me)@company.example",
        "worker@[192.0.2.1]",
        ".worker@company.example",
        "wor..ker@company.example",
    ],
)
def test_other_spellings_of_a_mailbox_are_refused_with_a_clear_message(letter, address):
    response = api_sign(letter, email=address)
    assert response.status_code == 400
    message = " ".join(response.json()["fields"]["email"])
    assert "plain way" in message or "single dots" in message or "valid email" in message
    page = Client().post(
        f"/l/{letter.slug}/", {"name": "Ada", "email": address, "display": "public"}
    )
    assert page.status_code == 400 and b"errors" in page.content
    settle()
    assert not Signature.objects.exists() and not OutgoingEmail.objects.exists()


def test_sub_addresses_reach_one_mailbox_and_count_once(letter):
    for tag in ("", "+1", "+2", "+letters"):
        assert api_sign(letter, email=f"worker{tag}@company.example").status_code == 202
    settle()
    assert Signature.objects.filter(letter=letter).count() == 1
    assert canonical_email("Worker+x@Company.Example") == "worker@company.example"
    assert canonical_email("+only@x.example") == "+only@x.example"  # nothing before the +
