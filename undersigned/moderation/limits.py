"""Rate limits and blocklists. Their answer is a *hold*, never an error and never a silent
drop: a held signature is stored, mailed and confirmed like any other, but not counted until
an organizer or operator releases it (or invalidates it, with a public reason); the page,
the API and the signer's private page say how many are held and why (``REASONS``).

- When a signature arrives (``flag_for_signing``): blocked domains and address patterns, and
  the limit per client (a keyed hash of the client's network: its IPv4 address or IPv6 /64).
- When it is confirmed (``over_domain_limit``): the limit per email domain, which counts only
  confirmed signatures, so that junk nobody confirms cannot use up an organization's room,
  and only those not already held by the client limit.
- Addresses at the letter's own verified domains are never held for sharing a network or a
  domain: 300 colleagues behind one company NAT signing their company's letter all count.

Counters are per window of a minute (burst) and an hour (sustained), in Redis when
``REDIS_URL`` is set (shared by every app server) and otherwise in a store of this process of
their own, which only time empties: nothing a reader requests can evict them."""

from __future__ import annotations

import ipaddress
import threading
import time
from functools import cache

from django.conf import settings
from django.core.cache import cache as shared_cache

from undersigned.lib.tokens import derive_key, keyed_hash
from undersigned.moderation.models import Policy
from undersigned.web.caching import SHARED_CACHE

# Why a signature is held (stored in Signature.flag), as organizers and signers read it.
RATE_CLIENT = "rate-client"
RATE_DOMAIN = "rate-domain"
BLOCKED = "blocked"
HONEYPOT = "honeypot"
REASONS = {
    RATE_CLIENT: "many signatures from one network within minutes",
    RATE_DOMAIN: "many confirmations from one email domain within minutes",
    BLOCKED: "an address the operators block",
    HONEYPOT: "a form filled in by a program (the hidden trap field was filled)",
}
# The holds that a later signature by the same person (passing the limits) may clear.
CLEARED_BY_SIGNING_AGAIN = (RATE_CLIENT, RATE_DOMAIN, HONEYPOT)


class _Windows:
    """Counters per fixed window, for this process; an entry goes when its window has
    passed, and only then."""

    SWEEP_SECONDS = 10

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(self, key: str, seconds: int, add: int = 1) -> int:
        now = time.time()
        slot = (key, seconds, int(now // seconds))
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            count = self._counts.get(slot, 0) + add
            if count:
                self._counts[slot] = count
        return count

    def _sweep(self, now: float) -> None:
        self._counts = {
            slot: n for slot, n in self._counts.items() if (slot[2] + 1) * slot[1] > now
        }
        self._next_sweep = now + self.SWEEP_SECONDS

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def __len__(self) -> int:
        return len(self._counts)


windows = _Windows()


@cache
def _key_for_names() -> bytes:
    return derive_key(settings.SECRET_KEY, "rate-limit-names")


def _name(kind: str, letter_id: int, value: str) -> str:
    """A counter's name: keyed, so that Redis holds no domain a dictionary could reverse."""
    return f"rl:{keyed_hash(_key_for_names(), f'{kind}:{letter_id}:{value}').hex()[:32]}"


def count(key: str, seconds: int, add: int = 0) -> int:
    """The count of ``key`` in this window of ``seconds``, after adding ``add``."""
    name = _name("n", 0, key)
    if not SHARED_CACHE:
        return windows.hit(name, seconds, add)
    window = f"{name}:{int(time.time() // seconds)}"
    if not add:
        return int(shared_cache.get(window) or 0)
    shared_cache.add(window, 0, seconds + 5)
    try:
        return shared_cache.incr(window, add)
    except ValueError:  # evicted between add and incr
        shared_cache.set(window, add, seconds + 5)
        return add


def _hit(name: str, limit: int, seconds: int) -> bool:
    """Count one more in this window; True if that goes over ``limit``."""
    if not SHARED_CACHE:
        return windows.hit(name, seconds) > limit
    window = f"{name}:{int(time.time() // seconds)}"
    shared_cache.add(window, 0, seconds + 5)
    try:
        return shared_cache.incr(window) > limit
    except ValueError:  # evicted between add and incr: count afresh
        shared_cache.set(window, 1, seconds + 5)
        return 1 > limit


def _over(name: str, burst: int, sustained: int) -> bool:
    over = _hit(name + ":m", burst, 60)
    return _hit(name + ":h", sustained, 3600) or over


def flag_for_signing(
    letter_id: int, address: str, canonical: str, ip: str, client: str, verified: bool
) -> str:
    """The reason to hold a new signature, or "". Block patterns see the address as written
    (lower-cased) and in canonical form, so ``*+bulk*@…`` still catches sub-addresses.
    ``client`` is the keyed hash of the client's network; ``verified``: the address is at one
    of the letter's own domains."""
    policy = Policy.current()
    if policy.address_blocked(address) or policy.address_blocked(canonical):
        return BLOCKED
    if verified or not client or policy.client_allowed(_address(ip)):
        return ""
    over = _over(
        _name("c", letter_id, client), policy.burst_per_client, policy.sustained_per_client
    )
    return RATE_CLIENT if over else ""


def over_domain_limit(letter_id: int, domain: str) -> bool:
    """Count a confirmed signature at ``domain`` (as stored: the domain, or its keyed hash);
    True if its letter has had more from that domain than the policy allows."""
    policy = Policy.current()
    if not domain or policy.domain_allowed(domain):
        return False
    name = _name("d", letter_id, domain)
    return _over(name, policy.burst_per_domain, policy.sustained_per_domain)


def client_exempt(ip: str) -> bool:
    """Whether the client at ``ip`` is exempt from limits per client (the policy's allowed
    networks and ``UNDERSIGNED_RATE_LIMIT_ALLOW``)."""
    return Policy.current().client_allowed(_address(ip))


def _address(ip: str):
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
