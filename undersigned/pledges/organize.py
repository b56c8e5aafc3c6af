"""The pledges of a letter in its organizers' workspace: list them, create one (editor), and
send a met pledge's one announcement (editor, after confirming it is you: it mails every
committer)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from undersigned.accounts import factors
from undersigned.organize.views import EDITOR, VIEWER, _get_letter_for_organizer
from undersigned.pledges import services
from undersigned.pledges.forms import AnnouncementForm, WorkspacePledgeForm
from undersigned.pledges.models import Pledge


def _page(request, letter, membership, status=200, form=None, announcing=None, errors=None):
    context = {
        "letter": letter,
        "membership": membership,
        "pledges": Pledge.objects.filter(letter=letter).order_by("-created_at"),
        "form": form or WorkspacePledgeForm(),
        "announcing": announcing,  # (pledge slug, bound form) that came back with errors
        "errors": errors,
        "announce_days": services.announce_window().days,
    }
    return render(request, "pledges/organize.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pledges(request, slug):
    role = EDITOR if request.method == "POST" else VIEWER
    letter, membership = _get_letter_for_organizer(request, slug, role)
    if request.method != "POST":
        return _page(request, letter, membership)
    form = WorkspacePledgeForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, status=400, form=form)
    data = form.cleaned_data
    spec = services.PledgeSpec(
        slug=data["slug"],
        action=data["action"],
        threshold=data["threshold"],
        deadline=data["deadline"],
        letter=letter,
        verified_only=data["verified_only"],
        domains=tuple(data["domains"]),
    )
    try:
        pledge = services.create(spec, publish=data["publish"], via="web", actor=request.user)
    except services.PledgeError as exc:
        form.add_error(None, str(exc))
        return _page(request, letter, membership, status=exc.status, form=form)
    messages.success(
        request, "Pledge published." if pledge.is_published else "Pledge saved as a draft."
    )
    return redirect("organize:pledges", slug=letter.slug)


@login_required
@require_POST
def announce(request, slug, pledge):
    letter, membership = _get_letter_for_organizer(request, slug, EDITOR)
    found = get_object_or_404(Pledge, letter=letter, slug=pledge)
    form = AnnouncementForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, status=400, announcing=(found.slug, form))
    if not factors.is_recent(request):
        return factors.ask_again(request)  # mail to every committer
    try:
        services.announce(
            found,
            form.cleaned_data["subject"],
            form.cleaned_data["body"],
            actor=request.user,
            via="web",
        )
    except services.PledgeError as exc:
        return _page(
            request,
            letter,
            membership,
            status=exc.status,
            announcing=(found.slug, form),
            errors=str(exc),
        )
    messages.success(request, "The announcement goes to the pledge's committers now.")
    return redirect("organize:pledges", slug=letter.slug)
