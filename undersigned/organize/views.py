"""The organizer workspace: write, publish, follow the counts, keep the timeline (updates,
demands, responses), review held signatures, export, and the team.

Every page starts from ``_get_letter_for_organizer(request, slug, role)``: the letter if the
user organizes it with at least ``role`` (viewer < editor < owner), 404 if they do not
organize it at all (outsiders cannot tell it from a letter that does not exist), 403 if their
role is too small. The verbs live in ``letters.services``, ``letters.timeline`` and
``letters.organizers``; these views only translate their errors."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from undersigned.accounts import factors
from undersigned.accounts.models import OrganizerKey
from undersigned.events.models import Event
from undersigned.letters import organizers as team
from undersigned.letters import services, timeline
from undersigned.letters.forms import LetterForm
from undersigned.letters.models import Demand, Letter, Organizer, Update
from undersigned.letters.views import letter_context
from undersigned.moderation.forms import HeldForm, held_by_reason
from undersigned.organize.forms import (
    DemandForm,
    DemandStatusForm,
    InvitationForm,
    ResponseForm,
    UpdateForm,
)
from undersigned.subscriptions.services import mailings_left

VIEWER, EDITOR, OWNER = Organizer.Role.VIEWER, Organizer.Role.EDITOR, Organizer.Role.OWNER


def _get_letter_for_organizer(request, slug, role: str = VIEWER) -> tuple[Letter, Organizer]:
    letter = get_object_or_404(Letter, slug=slug)
    membership = Organizer.objects.filter(letter=letter, user=request.user).first()
    if membership is None:
        raise Http404("No such letter")
    if not membership.may(role):
        raise PermissionDenied(f"This needs the role {role} on this letter.")
    return letter, membership


@login_required
def dashboard(request):
    # The counts the counter keeps, no live number of pending signatures: one that moves with
    # each signature would tell an organizer whether an address they typed had signed.
    letters = Letter.objects.organized_by(request.user).order_by("-created_at")
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
    """The workspace; its form saves the letter (editors and owners)."""
    role = EDITOR if request.method == "POST" else VIEWER
    letter, membership = _get_letter_for_organizer(request, slug, role)
    form = LetterForm(request.POST or None, instance=letter)
    if request.method == "POST" and form.is_valid():
        corrections = request.POST.get("corrections_only") == "on"
        draft = form.save(commit=False)
        services.edit(
            draft, form.changed_data, actor=request.user, via="web", corrections_only=corrections
        )
        saved = "Saved."
        if letter.is_published and set(services.TEXT) & set(form.changed_data):
            saved = f"Saved as version {draft.version}: what people signed stays as it was."
        messages.success(request, saved)
        return redirect("organize:letter", slug=draft.slug)
    return _page(request, letter, membership, form=form, status=400 if form.errors else 200)


def _page(request, letter, membership, status=200, **forms):
    sealing_keys = OrganizerKey.objects.for_letter(letter).select_related("user")
    entries, _ = timeline.entries(letter, limit=10)
    context = {
        "letter": letter,
        "membership": membership,
        "form": forms.get("form") or LetterForm(instance=letter),
        "held_form": forms.get("held_form") or HeldForm(),
        "update_form": forms.get("update_form") or UpdateForm(),
        "demand_form": forms.get("demand_form") or DemandForm(),
        "response_form": forms.get("response_form") or ResponseForm(),
        "invitation_form": forms.get("invitation_form") or InvitationForm(),
        "demands": letter.demands.all(),
        "statuses": Demand.Status.choices,
        "held": held_by_reason(letter),
        "sealing_keys": sealing_keys,
        "team": Organizer.objects.filter(letter=letter).select_related("user").order_by("id"),
        "entries": entries,
        "mailings_left": mailings_left(letter),
        "versions": letter.versions.count(),
        "base_url": settings.BASE_URL,
    }
    return render(request, "organize/letter.html", context, status=status)


@login_required
@require_POST
def held(request, slug):
    """Review held signatures: count them, or remove them with a public reason."""
    letter, membership = _get_letter_for_organizer(request, slug, OWNER)
    form = HeldForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, held_form=form, status=400)
    messages.success(request, form.apply(letter, actor=request.user, via="web"))
    return redirect("organize:letter", slug=letter.slug)


@login_required
def preview(request, slug):
    letter, membership = _get_letter_for_organizer(request, slug)
    context = {**letter_context(letter, request), "preview": True, "membership": membership}
    return render(request, "letters/detail.html", context)


def _act(request, slug, verb, done: str, role: str = OWNER):
    """Apply a letter verb for the organizer; its refusal becomes a message on the page."""
    letter, _ = _get_letter_for_organizer(request, slug, role)
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
def close(request, slug):
    """Closing asks first (a GET, or a POST without ``confirm``), then closes."""
    letter, _ = _get_letter_for_organizer(request, slug, OWNER)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "organize/confirm_close.html", {"letter": letter})
    return _act(request, slug, services.close, "Closed: the letter no longer takes signatures.")


@login_required
@factors.recent_auth_required
def export(request, slug, fmt):
    letter, _ = _get_letter_for_organizer(request, slug)
    try:
        rows = services.export(letter, fmt, actor=request.user, via="web")
    except services.LetterError:
        raise Http404("Unknown export format") from None
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = StreamingHttpResponse(rows, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{letter.slug}-signatures.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- the timeline -----------------------------------------------------------------------------


@login_required
@require_POST
def update(request, slug):
    letter, membership = _get_letter_for_organizer(request, slug, EDITOR)
    form = UpdateForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, update_form=form, status=400)
    body, mail = form.cleaned_data["body"], form.cleaned_data["mail"]
    if mail and request.POST.get("action") != "test" and not factors.is_recent(request):
        return factors.ask_again(request)  # mail to every subscriber
    if request.POST.get("action") == "test":
        sent = timeline.test_update(letter, body, request.user)
        messages.success(request, sent)
        return _page(request, letter, membership, update_form=form)
    try:
        timeline.post_update(letter, body, mail=mail, actor=request.user, via="web")
    except services.LetterError as exc:
        form.add_error(None, str(exc))
        return _page(request, letter, membership, update_form=form, status=409)
    messages.success(request, "Update posted" + (": its mail goes out now." if mail else "."))
    return redirect("organize:letter", slug=letter.slug)


@login_required
@require_POST
def correct_update(request, slug, pk):
    """Correct a posted update; the page then says when it was edited."""
    letter, membership = _get_letter_for_organizer(request, slug, EDITOR)
    found = get_object_or_404(Update, pk=pk, letter=letter)
    form = UpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(map(str, form.errors.get("body", ["Give the text."]))))
        return redirect("organize:letter", slug=letter.slug)
    try:
        timeline.edit_update(found, form.cleaned_data["body"], actor=request.user, via="web")
    except services.LetterError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Update corrected: its page says when.")
    return redirect("organize:letter", slug=letter.slug)


@login_required
@require_POST
def demand(request, slug):
    letter, membership = _get_letter_for_organizer(request, slug, EDITOR)
    if "status" in request.POST:
        status_form = DemandStatusForm(request.POST)
        if status_form.is_valid():
            data = status_form.cleaned_data
            if data["mail"] and not factors.is_recent(request):
                return factors.ask_again(request)
            found = get_object_or_404(Demand, pk=data["demand"], letter=letter)
            try:
                timeline.set_demand_status(
                    found,
                    data["status"],
                    data["note"],
                    mail=data["mail"],
                    actor=request.user,
                    via="web",
                )
            except services.LetterError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, "Demand updated.")
        else:
            messages.error(request, "Choose a demand and its status.")
        return redirect("organize:letter", slug=letter.slug)
    form = DemandForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, demand_form=form, status=400)
    timeline.add_demand(letter, form.cleaned_data["text"], actor=request.user, via="web")
    messages.success(request, "Demand added.")
    return redirect("organize:letter", slug=letter.slug)


@login_required
@require_POST
def response(request, slug):
    letter, membership = _get_letter_for_organizer(request, slug, EDITOR)
    form = ResponseForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, response_form=form, status=400)
    data = form.cleaned_data
    if data["mail"] and not factors.is_recent(request):
        return factors.ask_again(request)
    try:
        timeline.record_response(
            letter,
            by=data["by"],
            role=data["role"],
            said_on=data["date"],
            quote=data["quote"],
            sources=data["sources"],
            note=data["note"],
            note_sources=data["note_sources"],
            mail=data["mail"],
            actor=request.user,
            via="web",
        )
    except services.LetterError as exc:
        form.add_error(None, str(exc))
        return _page(request, letter, membership, response_form=form, status=400)
    messages.success(request, "Response recorded on the timeline.")
    return redirect("organize:letter", slug=letter.slug)


@login_required
def log(request, slug):
    """The letter's audit log: every organizer and operator act (never a signer's)."""
    letter, membership = _get_letter_for_organizer(request, slug)
    found = Event.objects.for_organizers().filter(letter=letter).select_related("actor")
    page = Paginator(found.order_by("-id"), 50).get_page(request.GET.get("page"))
    return render(
        request, "organize/log.html", {"letter": letter, "page": page, "membership": membership}
    )


# --- the team ---------------------------------------------------------------------------------


@login_required
@require_POST
def invite(request, slug):
    letter, membership = _get_letter_for_organizer(request, slug, OWNER)
    if not factors.is_recent(request):
        return factors.ask_again(request)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return _page(request, letter, membership, invitation_form=form, status=400)
    team.invite(
        letter, form.cleaned_data["email"], form.cleaned_data["role"], actor=request.user, via="web"
    )
    messages.success(request, "Invitation sent: the link works once, for a week.")
    return redirect("organize:letter", slug=letter.slug)


@login_required
def remove(request, slug, username):
    """Removing an organizer (or leaving) asks first."""
    wanted = OWNER if username != request.user.get_username() else VIEWER
    letter, _ = _get_letter_for_organizer(request, slug, wanted)
    user = get_object_or_404(get_user_model(), username=username)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "organize/confirm_remove.html", {"letter": letter, "member": user})
    if not factors.is_recent(request):
        return factors.ask_again(request)
    try:
        team.remove(letter, username, actor=request.user, via="web")
    except team.TeamError as exc:
        messages.error(request, str(exc))
        return redirect("organize:letter", slug=letter.slug)
    if user == request.user:
        messages.success(request, f"You no longer organize {letter.title}.")
        return redirect("organize:dashboard")
    messages.success(request, f"{username} no longer organizes this letter.")
    return redirect("organize:letter", slug=letter.slug)


def join(request, token):
    """An invitation's link: a GET shows what it is for (and changes nothing); its POST
    accepts, for the logged-in user or for a new account made in the same step."""
    invitation = team.invitation_for(token)
    if invitation is None:
        return render(
            request,
            "signatures/invalid.html",
            {"message": "This invitation is not valid: it was used, has expired or was mistyped."},
            status=404,
        )
    signup: UserCreationForm | None = None
    if not request.user.is_authenticated:
        signup = UserCreationForm(request.POST or None)
    if request.method == "POST":
        if signup is not None and not signup.is_valid():
            context = {"invitation": invitation, "signup": signup}
            return render(request, "organize/join.html", context, status=400)
        try:
            with transaction.atomic():  # no account is left behind by a link that fails
                user = signup.save() if signup is not None else request.user
                letter = team.accept(token, user)
        except team.TeamError as exc:
            return render(request, "signatures/invalid.html", {"message": str(exc)}, status=409)
        if signup is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"You organize “{letter.title}” now.")
        return redirect("organize:letter", slug=letter.slug)
    return render(request, "organize/join.html", {"invitation": invitation, "signup": signup})
