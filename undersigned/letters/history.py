"""Public pages of a letter's history: its versions with a readable difference between any
two, the neutral link of discreet mail, and the Atom feed of its timeline."""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.http import require_safe

from undersigned.events.models import Event
from undersigned.letters import members, timeline
from undersigned.letters.views import get_published_letter, version_counts
from undersigned.lib.diff import word_diff


def _readable(request, slug):
    letter = get_published_letter(slug)
    if not members.can_read(request, letter):
        raise Http404("No such letter")
    return letter


def _text(version) -> str:
    return (
        f"# {version.title}\n\n"
        + (f"To {version.addressed_to}\n\n" if version.addressed_to else "")
        + version.body
    )


@require_safe
def versions(request, slug):
    """Every version of the text, how many signed each, and the difference between two
    (``?from=N&to=M``; by default the two latest)."""
    letter = _readable(request, slug)
    found = list(letter.versions.all())
    if not found:
        raise Http404("No versions")
    numbers = [v.number for v in found]
    try:
        to = int(request.GET.get("to") or numbers[-1])
        since = int(request.GET.get("from") or (to - 1 if to > 1 else to))
    except ValueError:
        to, since = numbers[-1], max(numbers[-1] - 1, 1)
    if to not in numbers or since not in numbers:
        to, since = numbers[-1], max(numbers[-1] - 1, 1)
    by_number = {v.number: v for v in found}
    counts = dict(version_counts(letter)) if letter.version > 1 else {1: letter.signature_count}
    context = {
        "letter": letter,
        "versions": [(v, counts.get(v.number, 0)) for v in found],
        "since": by_number[since],
        "to": by_number[to],
        "diff": word_diff(_text(by_number[since]), _text(by_number[to])) if since != to else [],
    }
    return render(request, "letters/versions.html", context)


@require_safe
def timeline_page(request, slug):
    """The timeline beyond what the letter's page shows, a page at a time (``?before=`` the
    cursor the previous page gave)."""
    letter = _readable(request, slug)
    try:
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        before = None
    entries, more = timeline.entries(letter, before, limit=timeline.PAGE)
    return render(
        request,
        "letters/timeline.html",
        {"letter": letter, "entries": entries, "more_entries": more},
    )


@require_safe
def entry(request, pk):
    """The neutral address of a timeline entry (discreet mail names no letter): to the entry."""
    event = get_object_or_404(Event.objects.public().select_related("letter"), pk=pk)
    if event.letter is None or not event.letter.is_published:
        raise Http404("No such entry")
    return redirect(f"{event.letter.get_absolute_url()}#e-{event.pk}")


class TimelineFeed(Feed):
    """The letter's timeline as Atom: each entry has the event's stable id as its permalink."""

    feed_type = Atom1Feed

    def get_object(self, request, slug):
        letter = get_published_letter(slug)
        if letter.members_only:
            raise Http404("Members only")
        return letter

    def title(self, letter):
        return f"{letter.title}: timeline"

    def link(self, letter):
        return letter.get_absolute_url()

    def subtitle(self, letter):
        return f"Updates, versions, demands and responses of the open letter “{letter.title}”."

    def items(self, letter):
        return timeline.entries(letter, limit=50)[0]

    def item_title(self, item):
        return item["text"]

    def item_description(self, item):
        if "update" in item:
            return item["update"].body_html
        if "response" in item:
            response = item["response"]
            sources = " ".join(f'<a href="{s["url"]}">{s["url"]}</a>' for s in response.sources)
            return f"{response.quote_html}<p>Sources: {sources}</p>{response.note_html}"
        return item["text"]

    def item_link(self, item):
        return item["url"]

    def item_guid(self, item):
        return item["url"]

    def item_pubdate(self, item):
        return item["at"]

    def item_updateddate(self, item):
        return item["at"]
