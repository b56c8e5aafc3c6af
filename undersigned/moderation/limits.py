"""Rate limits and blocklists, applied when a signature arrives.

The answer is a flag, never an error: a flagged signature is stored and mailed like any other
but never counted, so neither a bot nor a real person over a limit learns where the limits
are. Counters live in the cache (shared between app servers when REDIS_URL is set; per
process otherwise) under fixed windows of a minute (burst) and an hour (sustained)."""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time

from django.core.cache import cache

from undersigned.moderation.models import Policy
from undersigned.web.caching import MISSING, SHARED_CACHE, recent

# Reasons a signature is flagged (stored in Signature.flag).
RATE_CLIENT = "rate-client"
RATE_DOMAIN = "rate-domain"
BLOCKED = "blocked"
HONEYPOT = "honeypot"


# Without a shared cache (REDIS_URL) the counters are this process's anyway: keep them in its
# own store, which costs a fraction of the local cache backend's pickling and key checks.
_counting = threading.Lock()


def _hit(key: str, limit: int, seconds: int) -> bool:
    """Count one more in this window; True if that goes over ``limit``."""
    window = f"rl:{key}:{int(time.time() // seconds)}"
    if not SHARED_CACHE:
        with _counting:
            count = recent.get(window)
            count = 1 if count is MISSING else count + 1
            recent.set(window, count, seconds + 5)
        return count > limit
    cache.add(window, 0, seconds + 5)
    try:
        return cache.incr(window) > limit
    except ValueError:  # evicted between add and incr: count afresh
        cache.set(window, 1, seconds + 5)
        return 1 > limit


def flag_for(letter_id: int, address: str, canonical_email: str, ip: str, ip_hash: str) -> str:
    """The reason to flag a new signature, or "". Block patterns see the address as it was
    written (lower-cased), so that ``*+bulk*@…`` still catches sub-addresses."""
    policy = Policy.current()
    if policy.address_blocked(address) or policy.address_blocked(canonical_email):
        return BLOCKED
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        address = None
    flag = ""
    if ip_hash and not policy.client_allowed(address):
        key = f"c:{letter_id}:{ip_hash}"
        over = _hit(key + ":m", policy.burst_per_client, 60)
        over = _hit(key + ":h", policy.sustained_per_client, 3600) or over
        flag = RATE_CLIENT if over else flag
    domain = canonical_email.rpartition("@")[2]
    if not policy.domain_allowed(domain):
        key = f"d:{letter_id}:{hashlib.blake2b(domain.encode(), digest_size=12).hexdigest()}"
        over = _hit(key + ":m", policy.burst_per_domain, 60)
        over = _hit(key + ":h", policy.sustained_per_domain, 3600) or over
        flag = flag or (RATE_DOMAIN if over else "")
    return flag
