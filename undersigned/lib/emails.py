"""Email addresses: the spelling we send to, and the canonical form that names the mailbox,
so that one mailbox gets one signature per letter.

We take only the plain spelling of an address (a dot-atom before the ``@``, a domain name
after it), because RFC 5322 lets one mailbox be written many ways that mail servers deliver
to the same place: ``"worker"@x``, ``"w\\orker"@x`` and ``worker@x`` are one mailbox, and a
local part of n letters has 2^n such spellings. Quoted local parts, backslashes, comments and
domain literals (``worker@[192.0.2.1]``) are refused with a message; nobody needs them to
sign. What is left is what we send to (``ascii_address``).

Canonical form (documented in the README), for de-duplication only:
- trim surrounding whitespace and lower-case the whole address (mail servers treat the part
  before the ``@`` without regard to case, whatever RFC 5321 allows);
- the domain in its ASCII (IDNA) form, so unicode domains compare with their punycode
  spelling;
- anything from the first ``+`` in the part before the ``@`` is dropped (sub-addressing,
  RFC 5233: Google Workspace, Microsoft 365, Fastmail, Proton and most company servers
  deliver ``worker+anything@`` to ``worker@``);
- gmail.com and googlemail.com also ignore dots in it, and are one domain.
Other rules (dots elsewhere, ``-`` tags) differ between providers, and a wrong guess would
merge two different people.
"""

from __future__ import annotations

import string

GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}
# RFC 5322 atext: what a dot-atom local part may hold besides the dots between its atoms.
ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")


class AddressError(ValueError):
    """An address we do not take; the message says how to write it."""


def domain_to_ascii(domain: str) -> str:
    return domain.strip().rstrip(".").encode("idna").decode("ascii").lower()


def check_plain(local: str, domain: str) -> None:
    """Raise ``AddressError`` unless ``local@domain`` is written the plain way."""
    if any(char in local for char in '"\\()') or any(char in domain for char in "[]()"):
        raise AddressError(
            "Write the address the plain way, without quotation marks, backslashes, brackets "
            "or comments (for example name@example.org): the same mailbox can be written in "
            "many ways, and we count each mailbox once."
        )
    atoms = local.split(".")
    if not all(atoms) or not all(set(atom) <= ATEXT for atom in atoms):
        raise AddressError(
            "The part before the @ may hold letters, digits and ! # $ % & ' * + - / = ? ^ _ ` "
            "{ | } ~, with single dots between them (not at its start or end)."
        )


def ascii_address(local: str, domain: str) -> str:
    """The address we send to: the plain spelling, its domain in ASCII (IDNA) form, as mail
    servers need it. Raises ``AddressError`` for a spelling we do not take (``check_plain``),
    UnicodeError for a domain with no ASCII form and ValueError when the ASCII form is too
    long for mail (a long unicode domain can grow past the limits once encoded)."""
    check_plain(local, domain)
    ascii_domain = domain_to_ascii(domain)
    address = f"{local}@{ascii_domain}"
    if len(ascii_domain) > 253 or len(address) > 254:
        raise ValueError(
            "This address is too long once its domain is written for mail servers "
            f"({len(address)} characters; the limit is 254)."
        )
    return address


def canonical_email(address: str) -> str:
    """The mailbox that ``address`` (a plain spelling, as ``ascii_address`` returns it)
    reaches, in one spelling."""
    local, _, domain = address.strip().rpartition("@")
    local = local.lower().partition("+")[0] or local.lower()
    domain = domain_to_ascii(domain)
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
