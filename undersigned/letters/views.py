"""Public pages: the list of letters and each letter's page with its signing form; for
members-only letters, the teaser and the membership check that opens them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from undersigned.letters import growth, members, services, timeline
from undersigned.letters.models import Letter, SlugRedirect
from undersigned.signatures import forge
from undersigned.signatures.forms import (
    ForgeAccountForm,
    ForgeSignatureForm,
    MemberSignatureForm,
    SignatureForm,
)
from undersigned.signatures.models import Signature, parse_cursor, public_page
from undersigned.signatures.privacy import client_ip
from undersigned.signatures.services import (
    LetterNotOpen,
    SigningError,
    check_forge_allowed,
    sign,
    sign_as_member,
    sign_with_forge,
)
from undersigned.web.caching import cached_response, letter_key, vary_on_cookie


class LetterMoved(Exception):
    """The letter had this slug before: ``web.middleware`` answers a permanent redirect."""

    def __init__(self, old: str, new: str):
        super().__init__(old, new)
        self.old, self.new = old, new


def get_published_letter(slug: str) -> Letter:
    """The letter readers may see at ``slug``, or 404 (unknown and draft look the same). A
    slug the letter had before raises ``LetterMoved``."""
    letter = Letter.objects.published_at_slug(slug)
    if letter is None:
        moved_away(slug)
        raise Http404("No such letter")
    return letter


def moved_away(slug: str) -> None:
    """Raise ``LetterMoved`` if a published letter had ``slug`` before."""
    moved = SlugRedirect.objects.filter(slug=slug).select_related("letter").first()
    if moved is not None and moved.letter.is_published:
        raise LetterMoved(slug, moved.letter.slug)


PAGE_SECONDS = 2  # how long each process reuses a rendered public page


def _anonymous(request) -> bool:
    """A visitor without a session: every such visitor sees the same page."""
    return request.method in ("GET", "HEAD") and settings.SESSION_COOKIE_NAME not in request.COOKIES


def home(request):
    def build():
        letters = Letter.objects.listed().order_by("-published_at")[:50]
        return render(request, "letters/home.html", {"letters": letters})

    if not _anonymous(request):
        return build()
    return vary_on_cookie(cached_response(request, "home", PAGE_SECONDS, 5, build))


def _signing_form(letter: Letter, request, data=None):
    """The form to sign ``letter`` with: without an address for a member whose pass proved
    theirs. On a members-only letter anyone at the company can read the list, its addressee
    included, so the form suggests hiding one's name there."""
    form_class = MemberSignatureForm if members.proof(request, letter) else SignatureForm
    initial: dict = {"version": letter.version or None}
    if letter.members_only:
        initial["display"] = Signature.Display.HIDDEN
    return form_class(data, initial=initial, public_after_choices=letter.public_after_options())


def letter_context(letter: Letter, request, form=None) -> dict:
    try:
        after = parse_cursor(request.GET.get("after"))
    except ValueError:
        after = None
    signatories, next_cursor = public_page(letter, after)
    entries, more = timeline.entries(letter, limit=TIMELINE_ON_PAGE)
    shown, points = growth.chart_points(letter)
    return {
        "growth_bucket": shown,
        "growth_points": points,
        "growth_desc": growth.describe(letter, shown, points),
        "breakdown": growth.breakdown(letter),
        "smallest_group": settings.SMALLEST_GROUP,
        "letter": letter,
        "letter_url": letter.share_url,
        "signing_paused": services.pause_message(letter),
        "invalidations": letter.invalidations.filter(undone_at__isnull=True),
        "form": form if form is not None else _signing_form(letter, request),
        "signatories": signatories,
        "next_cursor": next_cursor,
        "paged": after is not None,
        "entries": entries,
        "more_entries": more,
        "demands": list(letter.demands.all()) if letter.version else [],
        "version_counts": version_counts(letter) if letter.version > 1 else [],
    }


TIMELINE_ON_PAGE = 20


def version_counts(letter: Letter) -> list[tuple[int, int]]:
    """(version number, counted signatures given for it), from the counter's tallies."""
    from undersigned.signatures.models import Tally

    tallies = dict(
        Tally.objects.filter(letter=letter, dimension=Tally.Dimension.VERSION).values_list(
            "key", "signatures"
        )
    )
    return [(n, tallies.get(str(n), 0)) for n in range(1, letter.version + 1)]


@csrf_exempt  # see PUBLIC_FORMS_WITHOUT_CSRF in web/http.py
@sensitive_post_parameters("name", "email", "affiliation", "department", "comment")
def detail(request, slug):
    """The letter page. For visitors without a session (nearly everyone, in a surge) each
    process renders it at most once every PAGE_SECONDS per page of signatories."""
    if not _anonymous(request):
        return _detail(request, slug)
    try:
        after = parse_cursor(request.GET.get("after"))
    except ValueError:
        after = None
    key = letter_key("page", slug, after)
    return vary_on_cookie(
        cached_response(request, key, PAGE_SECONDS, 5, lambda: _detail(request, slug))
    )


def _detail(request, slug):
    letter = get_published_letter(slug)
    if not members.can_read(request, letter):
        return members.gate(request, letter)
    form = None
    status = 200
    if request.method == "POST":
        form = _signing_form(letter, request, request.POST)
        proof = members.proof(request, letter)
        if form.is_valid():
            honeypot = bool(form.cleaned_data.get("website"))
            try:
                if proof is not None:
                    receipt = sign_as_member(
                        letter, form.signature_data(), proof, client_ip(request), honeypot
                    )
                    members.spend_proof(request, letter)
                    return _signed_as_member(request, letter, receipt)
                sign(letter, form.signature_data(), client_ip(request), honeypot=honeypot)
            except LetterNotOpen as exc:
                form.add_error(None, str(exc))
                status = 409
            except SigningError as exc:
                form.add_error("email", str(exc))
                status = 400
            else:
                return redirect("letters:signed", slug=letter.slug)
        else:
            status = 400
    elif request.method not in ("GET", "HEAD"):
        status = 405
    response = render(
        request, "letters/detail.html", letter_context(letter, request, form), status=status
    )
    if status == 405:
        response["Allow"] = "GET, HEAD, POST"
    return response


def _signed_as_member(request, letter: Letter, receipt: str):
    """The thank-you page of a member who signed with their pass, with their private link:
    shown once, kept by no cache."""
    response = render(request, "letters/signed_member.html", {"letter": letter, "receipt": receipt})
    response["Cache-Control"] = "private, no-store"
    return response


def signed(request, slug):
    letter = get_published_letter(slug)
    return render(
        request, "letters/signed.html", {"letter": letter, "letter_url": letter.share_url}
    )


def forge_scope(letter: Letter) -> tuple[str, str]:
    """What a forge challenge for ``letter`` is for: its scope, and how the challenge says it."""
    return f"letter:{letter.pk}", f"letter {letter.slug}"


@csrf_exempt  # see PUBLIC_FORMS_WITHOUT_CSRF in web/http.py
@sensitive_post_parameters("name", "email", "affiliation", "department", "comment")
def forge_sign(request, slug):
    """Signing ``slug`` as a code-forge account, without JavaScript (``forge_flow``)."""
    letter = get_published_letter(slug)
    if not members.can_read(request, letter):
        return members.gate(request, letter)
    try:
        _check_forge_open(letter)
        closed = ""
    except SigningError as exc:
        closed = str(exc)
    scope, label = forge_scope(letter)
    target = ForgeTarget(
        scope=scope,
        label=label,
        title=letter.title,
        url=letter.get_absolute_url(),
        forge_url=reverse("letters:forge", args=[letter.slug]),
        closed=closed,
        form_kwargs={"public_after_choices": letter.public_after_options()},
        initial={"version": letter.version or None},
        finish=lambda request, form, proof: _sign_as_forge_account(request, letter, form, proof),
    )
    return forge_flow(request, target)


@dataclass(frozen=True)
class ForgeTarget:
    """What a forge page signs (a letter) or commits to (a pledge): ``forge_flow``."""

    scope: str  # of its challenges (``forge.new_challenge``)
    label: str  # how a challenge names it
    title: str
    url: str  # its page
    forge_url: str  # this flow's page
    closed: str  # why it takes nothing now, or ""
    form_kwargs: dict
    initial: dict
    # Sign or commit with the checked form and the proof; a ``SigningError`` (a
    # ``PledgeError`` is one) shows the form again with its message.
    finish: Callable[[HttpRequest, ForgeSignatureForm, forge.Proof], HttpResponse]
    form_class: type[ForgeSignatureForm] = ForgeSignatureForm


def forge_flow(request, target: ForgeTarget):
    """The two steps of proving a code-forge account, with JavaScript off: step one asks for
    the account and answers its challenge with the commands that sign it; step two takes the
    signature with the signing form's fields, checks it, and calls ``target.finish``."""
    context: dict = {"target": target}
    status = 200
    if target.closed:
        context["closed"] = target.closed
        return _forge_page(request, context, 409)
    if request.method == "POST" and "ssh_signature" in request.POST:
        form = target.form_class(request.POST, **target.form_kwargs)
        context["form"] = form
        if form.is_valid():
            try:
                forge.count_attempt(client_ip(request))
                data = form.cleaned_data
                proof = forge.prove(
                    target.scope,
                    target.label,
                    data["forge"],
                    data["forge_username"],
                    data["challenge"],
                    data["ssh_signature"],
                )
                return target.finish(request, form, proof)
            except forge.ForgeError as exc:
                form.add_error("ssh_signature", str(exc))
            except SigningError as exc:  # and PledgeError: a message for the person
                form.add_error(None, str(exc))
        context["challenge"] = _shown_challenge(request.POST.get("challenge", ""))
        status = 400
    elif request.method == "POST":
        account = ForgeAccountForm(request.POST)
        context["account_form"] = account
        status = 400
        if account.is_valid():
            data = account.cleaned_data
            try:
                forge.count_attempt(client_ip(request))
                challenge = forge.new_challenge(
                    target.scope, target.label, data["forge"], data["username"]
                )
            except forge.ForgeError as exc:
                account.add_error(None, str(exc))
            else:
                initial = {
                    **target.initial,
                    "forge": data["forge"],
                    "forge_username": data["username"],
                    "challenge": challenge.text,
                }
                del context["account_form"]
                form = target.form_class(initial=initial, **target.form_kwargs)
                context.update(form=form, challenge=challenge)
                status = 200
    elif request.method in ("GET", "HEAD"):
        context["account_form"] = ForgeAccountForm()
    else:
        response = _forge_page(request, {**context, "account_form": ForgeAccountForm()}, 405)
        response["Allow"] = "GET, HEAD, POST"
        return response
    return _forge_page(request, context, status)


def _check_forge_open(letter: Letter) -> None:
    if not letter.accepts_signatures:
        raise LetterNotOpen("This letter is closed and no longer takes signatures.")
    if letter.members_only:
        raise SigningError("This letter is for members of its organization only.")
    check_forge_allowed(letter)


def _shown_challenge(text: str):
    """The challenge of a form sent back with errors, to show it again (only if it is one of
    ours in form; ``forge.prove`` is what checks it)."""
    return forge.Challenge(text, forge.namespace(), None) if forge.NONCE.search(text) else None


def _sign_as_forge_account(request, letter: Letter, form, proof: forge.Proof):
    signature = replace(form.signature_data(), proof=proof)
    honeypot = bool(form.cleaned_data.get("website"))
    if signature.email:
        sign(letter, signature, client_ip(request), honeypot=honeypot)
        return redirect("letters:signed", slug=letter.slug)
    receipt = sign_with_forge(letter, signature, client_ip(request), honeypot)
    response = render(
        request,
        "letters/signed_member.html",
        {"letter": letter, "receipt": receipt, "proof": proof, "letter_url": letter.share_url},
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _forge_page(request, context: dict, status: int):
    response = render(request, "letters/forge.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response
