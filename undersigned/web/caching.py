"""Public reads during a surge: a tiny per-process cache in front of the shared one, and the
headers that let browsers and proxies keep (and revalidate) what they got.

Every app process keeps recent answers for a second or two in ``recent``; a read that misses
asks the shared cache (Redis when ``REDIS_URL`` is set) or, failing that, the database. So
however many people refresh a letter, each process asks the database about it at most once a
second or two."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers

MISSING = object()
# Whether Django's cache is shared between processes (Redis, when REDIS_URL is set) or each
# process's own (the local-memory backend).
SHARED_CACHE = not str(settings.CACHES["default"]["BACKEND"]).endswith("LocMemCache")
_MAX_ENTRIES = 10_000


class Recent:
    """A dict with expiry, for this process only. Losing an entry only costs a query."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return MISSING
        return entry[1]

    def set(self, key: str, value: Any, seconds: float) -> None:
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + seconds, value)

    def clear(self) -> None:
        self._entries.clear()

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            self._entries.pop(key, None)


recent = Recent()


def etag_for(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'


def cacheable(response: HttpResponse, max_age: int, etag: str | None = None) -> HttpResponse:
    """Let anyone keep the answer ``max_age`` seconds, serve it stale while revalidating, and
    keep serving it for a day if the site fails."""
    patch_cache_control(
        response,
        public=True,
        max_age=max_age,
        stale_while_revalidate=max_age * 5,
        stale_if_error=86400,
    )
    if etag:
        response["ETag"] = etag
    return response


def answer(request, content: bytes, content_type: str, max_age: int, etag: str, status=200):
    """The response for ``content``, or 304 when the client already has it."""
    response: HttpResponse
    if request.method in ("GET", "HEAD") and etag in _if_none_match(request):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(content, content_type=content_type, status=status)
    if status == 200:
        cacheable(response, max_age, etag)
    return response


def _if_none_match(request) -> set[str]:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def vary_on_cookie(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["Cookie"])
    return response


def letter_key(kind: str, slug: str, *parts) -> str:
    """Cache keys of what is shown about a letter: ``forget_cached(slug)`` drops them."""
    return ":".join(["letter", slug, kind, *map(str, parts)])


def forget_cached(slug: str) -> None:
    """A letter changed (text, status, settings): drop what this process and the shared
    cache hold about it. Other processes' copies expire within a second or two."""
    from django.core.cache import cache

    recent.forget(f"letter:{slug}:")
    cache.delete(letter_key("count", slug))


def cached_response(request, key: str, seconds: float, max_age: int, build) -> HttpResponse:
    """Serve ``build()``'s 200 answer from this process's copy for ``seconds``; other answers
    (404, 403, ...) are built every time. With ETag and 304 either way."""
    hit = recent.get(key)
    if hit is MISSING:
        response = build()
        if response.status_code != 200 or response.streaming:
            return response
        hit = (response.content, response["Content-Type"], etag_for(response.content))
        recent.set(key, hit, seconds)
    content, content_type, etag = hit
    return answer(request, content, content_type, max_age, etag)
