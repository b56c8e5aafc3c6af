"""Ways to spread a letter from other sites: the badge (``/l/<slug>/badge.svg``, the same
number as the count API, readable cross-origin) and the embed (``/l/<slug>/embed/``, the one
page other sites may frame: it sets no cookie and loads nothing from anyone else)."""

from __future__ import annotations

import hashlib
import json

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

from undersigned.api.momentum import allow_any_origin
from undersigned.letters.views import LetterMoved, get_published_letter
from undersigned.lib import card as share_card
from undersigned.lib.svg import badge as draw_badge
from undersigned.signatures.counting import count_entry
from undersigned.web.caching import MISSING, answer, etag_for, letter_key, recent
from undersigned.web.security import POLICY, _header

# The embed's policy: the site's own, but any site may frame it.
EMBED_POLICY = _header({**POLICY, "frame-ancestors": "*"})


def badge(request, slug):
    entry = count_entry(slug)  # the count endpoint's own cached answer
    if entry["status"] == 301:
        raise LetterMoved(slug, entry["moved"])
    if entry["status"] != 200:
        raise Http404("No such badge")
    key = letter_key("badge", slug, entry["etag"])
    hit = recent.get(key)
    if hit is MISSING:
        n = json.loads(entry["body"])["signature_count"]
        svg = draw_badge("signatures", f"{n:,}").encode()
        hit = (svg, etag_for(svg))
        recent.set(key, hit, 5)
    return allow_any_origin(answer(request, hit[0], "image/svg+xml", 60, hit[1]))


@xframe_options_exempt
def embed(request, slug):
    key = letter_key("embed", slug)
    hit = recent.get(key)
    if hit is MISSING:
        letter = get_published_letter(slug)
        if letter.members_only:
            raise Http404("Members-only letters are not embedded")
        content = render(request, "letters/embed.html", {"letter": letter}).content
        hit = (content, etag_for(content))
        recent.set(key, hit, 2)
    response = answer(request, hit[0], "text/html; charset=utf-8", 30, hit[1])
    response["Content-Security-Policy"] = EMBED_POLICY
    return response


CARD_SECONDS = 24 * 3600  # in the shared cache, per rounding step of the count


def card(request, slug):
    """The share card: rendered again only when the count passes the next rounding step
    (``lib.card.rounded``) or the title or addressee change, not with each signature."""
    from django.core.cache import cache

    letter = get_published_letter(slug)
    if letter.members_only:
        raise Http404("Members-only letters have no share card")
    count_line = ""
    if letter.count_is_public():
        shown, more = share_card.rounded(letter.signature_count)
        count_line = f"{shown:,}{'+' if more else ''} signed"
    words = f"{letter.title}|{letter.addressed_to}|{count_line}".encode()
    key = letter_key("card", slug, hashlib.blake2b(words, digest_size=8).hexdigest())
    png = cache.get(key)
    if png is None:
        png = share_card.render(letter.title, count_line, letter.addressed_to)
        cache.set(key, png, CARD_SECONDS)
    return answer(request, png, "image/png", 300, etag_for(png))
