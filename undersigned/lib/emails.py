"""Canonical email addresses, so that one person gets one signature per letter.

Rules (documented in the README):
- trim surrounding whitespace and lower-case the whole address;
- the domain is stored in its ASCII (IDNA) form, so unicode domains compare with their
  punycode spelling;
- gmail.com and googlemail.com: the same mailbox ignores dots and anything after ``+`` in the
  local part, so those are removed and the domain becomes gmail.com.
Other providers are left alone: their local-part rules differ and a wrong guess would merge
two different people.
"""

from __future__ import annotations

GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


def domain_to_ascii(domain: str) -> str:
    return domain.strip().rstrip(".").encode("idna").decode("ascii").lower()


def ascii_address(local: str, domain: str) -> str:
    """The address with its domain in ASCII (IDNA) form, as mail servers need it. Raises
    UnicodeError for a domain with no ASCII form and ValueError when the ASCII form is too
    long for mail (a long unicode domain can grow past the limits once encoded)."""
    ascii_domain = domain_to_ascii(domain)
    address = f"{local}@{ascii_domain}"
    if len(ascii_domain) > 253 or len(address) > 254:
        raise ValueError(
            "This address is too long once its domain is written for mail servers "
            f"({len(address)} characters; the limit is 254)."
        )
    return address


def canonical_email(address: str) -> str:
    local, _, domain = address.strip().rpartition("@")
    local = local.lower()
    domain = domain_to_ascii(domain)
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
