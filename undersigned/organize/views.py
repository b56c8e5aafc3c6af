"""Organizer pages: create, preview, publish, close, watch the counts, export."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from undersigned.accounts.models import OrganizerKey
from undersigned.letters import services
from undersigned.letters.forms import LetterForm
from undersigned.letters.models import Letter
from undersigned.letters.views import letter_context
from undersigned.signatures.models import Signature


def _get_letter_for_organizer(request, slug) -> Letter:
    """The letter at ``slug`` if the user organizes it; 404 otherwise (outsiders cannot tell a
    letter they do not organize from one that does not exist)."""
    return get_object_or_404(Letter.objects.organized_by(request.user), slug=slug)


def _with_counts(queryset):
    return queryset.annotate(
        confirmed=Count("signatures", filter=Q(signatures__status=Signature.Status.CONFIRMED)),
        pending=Count("signatures", filter=Q(signatures__status=Signature.Status.PENDING)),
    )


@login_required
def dashboard(request):
    letters = _with_counts(Letter.objects.organized_by(request.user)).order_by("-created_at")
    return render(request, "organize/dashboard.html", {"letters": letters})


@login_required
def create(request):
    form = LetterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        letter = services.create(
            form.save(commit=False), [request.user], actor=request.user, via="web"
        )
        messages.success(request, "Draft saved. Preview it, then publish when it is ready.")
        return redirect("organize:letter", slug=letter.slug)
    return render(request, "organize/edit.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def letter(request, slug):
    letter = _get_letter_for_organizer(request, slug)
    form = LetterForm(request.POST or None, instance=letter)
    if request.method == "POST" and form.is_valid():
        services.edit(form.save(commit=False), form.changed_data, actor=request.user, via="web")
        messages.success(request, "Saved.")
        return redirect("organize:letter", slug=letter.slug)
    counts = _with_counts(Letter.objects.filter(pk=letter.pk)).values("confirmed", "pending")[0]
    sealing_keys = OrganizerKey.objects.for_letter(letter).select_related("user")
    return render(
        request,
        "organize/letter.html",
        {"letter": letter, "form": form, "counts": counts, "sealing_keys": sealing_keys},
        status=400 if form.errors else 200,
    )


@login_required
def preview(request, slug):
    letter = _get_letter_for_organizer(request, slug)
    return render(
        request, "letters/detail.html", {**letter_context(letter, request), "preview": True}
    )


def _act(request, slug, verb, done: str):
    """Apply a letter verb for the organizer; its refusal becomes a message on the page."""
    letter = _get_letter_for_organizer(request, slug)
    try:
        verb(letter, actor=request.user, via="web")
    except services.LetterError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("organize:letter", slug=letter.slug)


@login_required
@require_POST
def publish(request, slug):
    return _act(request, slug, services.publish, "Published: the letter is open for signatures.")


@login_required
@require_POST
def reopen(request, slug):
    return _act(request, slug, services.reopen, "Reopened: the letter takes signatures again.")


@login_required
@require_POST
def close(request, slug):
    return _act(request, slug, services.close, "Closed: the letter no longer takes signatures.")


@login_required
def export(request, slug, fmt):
    letter = _get_letter_for_organizer(request, slug)
    try:
        rows = services.export(letter, fmt, actor=request.user, via="web")
    except services.LetterError:
        raise Http404("Unknown export format") from None
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = StreamingHttpResponse(rows, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{letter.slug}-signatures.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response
