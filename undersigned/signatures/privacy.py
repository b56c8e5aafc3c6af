"""Client addresses, kept only as keyed hashes under a key that changes daily.

The day's key is derived from the instance secret (not in the database) and a random daily
salt (in the database, so that every app server uses the same one). ``purge`` deletes salts
older than ``IP_HASH_DAYS`` and clears the hashes made with them; from then on nothing links
a signature to an address."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from undersigned.lib.tokens import derive_key, keyed_hash
from undersigned.signatures.models import DailySalt, Signature
from undersigned.web.caching import MISSING, recent


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or the nearest untrusted hop of X-Forwarded-For when
    the request came through one of ``UNDERSIGNED_TRUSTED_PROXIES``."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.TRUSTED_PROXIES or not _in(remote, settings.TRUSTED_PROXIES):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in(hop, settings.TRUSTED_PROXIES):
            return hop
    return remote


def _in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _salt(day: date) -> str:
    key = f"ip-salt:{day.isoformat()}"
    salt = recent.get(key)
    if salt is MISSING:
        salt = _stored_salt(day)
        recent.set(key, salt, 60)
    return salt


def _stored_salt(day: date) -> str:
    row = DailySalt.objects.filter(day=day).first()
    if row is None:
        try:
            with transaction.atomic():
                row = DailySalt.objects.create(day=day, salt=secrets.token_hex(32))
        except IntegrityError:  # another server made today's salt first
            row = DailySalt.objects.get(day=day)
    return row.salt


def client_network(address: str) -> str:
    """What one client is, for limits and abuse tools: an IPv4 address (also when written as
    an IPv4-mapped IPv6 address), or an IPv6 client's /64, which one household or phone is
    given whole (one client with a /64 has 2^64 addresses to choose from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def ip_hash(address: str, day: date | None = None) -> tuple[str, date]:
    """(hash, day) for the client at ``address`` (its ``client_network``); the empty string
    for no address."""
    day = day or timezone.now().date()
    if not address:
        return "", day
    return keyed_hash(_day_key(day), client_network(address)).hex(), day


def _day_key(day: date) -> bytes:
    cached = f"ip-key:{day.isoformat()}"  # with the salt: both go when `recent` is cleared
    key = recent.get(cached)
    if key is MISSING:
        key = derive_key(settings.SECRET_KEY, "ip-hash", bytes.fromhex(_salt(day)))
        recent.set(cached, key, 60)
    return key


DOMAIN_HASH_PREFIX = "#"


def stored_domain(domain: str, verified: bool) -> str:
    """An email domain as the abuse tools keep it (for UNDERSIGNED_IP_HASH_DAYS days): as it
    is for one of the letter's own domains or a big shared provider (the policy's allowed
    domains), else as a keyed hash, since a small or personal domain can name its owner."""
    from undersigned.moderation.models import Policy

    if not domain or verified or Policy.current().domain_allowed(domain):
        return domain
    return DOMAIN_HASH_PREFIX + keyed_hash(_domain_key(), domain).hex()[:32]


def _domain_key() -> bytes:
    return _derived_domain_key(settings.SECRET_KEY)


@cache
def _derived_domain_key(secret: str) -> bytes:  # per secret: tests change it
    return derive_key(secret, "email-domain")


def address_cutoff(now=None) -> datetime:
    """The start of the oldest day whose client-address hashes (and email domains) are kept."""
    day = (now or timezone.now()).date() - timedelta(days=settings.IP_HASH_DAYS)
    return datetime.combine(day, time.min, tzinfo=UTC)


def forget_old_addresses(now=None) -> int:
    """Clear IP hashes older than the window and destroy their days' salts."""
    cutoff = address_cutoff(now).date()
    cleared = Signature.objects.filter(ip_day__lt=cutoff).update(
        ip_hash="", ip_day=None, email_domain=""
    )
    DailySalt.objects.filter(day__lt=cutoff).delete()
    recent.clear()  # this process's copy of a destroyed salt must go too
    return cleared
