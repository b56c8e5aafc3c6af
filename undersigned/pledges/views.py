"""Public pledge pages: the status page with its commitment form, the confirmation link (a
GET shows what confirming publishes, the POST confirms), the committer's private page, and
the badge."""

from __future__ import annotations

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from undersigned.api.momentum import allow_any_origin
from undersigned.letters.views import PAGE_SECONDS, ForgeTarget, _anonymous, forge_flow
from undersigned.lib.svg import badge as draw_badge
from undersigned.lib.tokens import new_token
from undersigned.pledges import services
from undersigned.pledges.forms import CommitmentDisplayForm, CommitmentForm, ForgeCommitmentForm
from undersigned.pledges.models import Commitment, Pledge
from undersigned.web.caching import cached_response, vary_on_cookie

PUBLIC_LIMIT = 500  # public names on the page once met


def get_published_pledge(slug: str) -> Pledge:
    pledge = Pledge.objects.published().select_related("letter").filter(slug=slug).first()
    if pledge is None:
        raise Http404("No such pledge")
    return pledge


def public_committers(pledge: Pledge):
    """Those who chose to be named, once the pledge is met; nobody before."""
    if pledge.status != Pledge.Status.MET:
        return []
    return list(
        Commitment.objects.confirmed()
        .filter(pledge=pledge, display=Commitment.Display.PUBLIC)
        .order_by("order_key")
        .only("name", "affiliation", "comment", "verified_domain", "forge")[:PUBLIC_LIMIT]
    )


@csrf_exempt  # see PUBLIC_FORMS_WITHOUT_CSRF in web/http.py
@sensitive_post_parameters("name", "email", "affiliation", "department", "comment")
@require_http_methods(["GET", "HEAD", "POST"])
def detail(request, slug):
    """The pledge page; for visitors without a session, each process renders it at most once
    every PAGE_SECONDS (the count moves at most once a second anyway)."""
    if not _anonymous(request):
        return _detail(request, slug)
    return vary_on_cookie(
        cached_response(
            request, f"pledge:{slug}:page", PAGE_SECONDS, 5, lambda: _detail(request, slug)
        )
    )


def _detail(request, slug):
    pledge = get_published_pledge(slug)
    form = CommitmentForm(pledge=pledge)
    status = 200
    if request.method == "POST":
        form = CommitmentForm(request.POST, pledge=pledge)
        if form.is_valid():
            try:
                if not form.cleaned_data.get("website"):  # a bot: the same answer, no mail
                    services.commit(pledge, form.commitment_data())
            except services.PledgeClosed as exc:
                form.add_error(None, str(exc))
                status = exc.status
            except services.PledgeError as exc:
                form.add_error("email", str(exc))
                status = exc.status
            else:
                return redirect("pledges:committed", slug=pledge.slug)
        else:
            status = 400
    context = {"pledge": pledge, "form": form, "committers": public_committers(pledge)}
    return render(request, "pledges/detail.html", context, status=status)


@csrf_exempt  # see PUBLIC_FORMS_WITHOUT_CSRF in web/http.py
@sensitive_post_parameters("name", "affiliation", "department", "comment")
def forge_commit(request, slug):
    """Committing as a code-forge account, proven by an SSH signature, without JavaScript:
    the letters' forge flow, for this pledge."""
    pledge = get_published_pledge(slug)
    try:
        services.check_open(pledge)
        services.check_forge_allowed(pledge)
        closed = ""
    except services.PledgeError as exc:
        closed = str(exc)
    scope, label = services.forge_scope(pledge)
    target = ForgeTarget(
        scope=scope,
        label=label,
        title=f"I will {pledge.action}",
        url=pledge.get_absolute_url(),
        forge_url=reverse("pledges:forge", args=[pledge.slug]),
        closed=closed,
        form_kwargs={"pledge": pledge},
        initial={},
        finish=lambda request, form, proof: _commit_as_forge_account(request, pledge, form, proof),
        form_class=ForgeCommitmentForm,
    )
    return forge_flow(request, target)


def _commit_as_forge_account(request, pledge: Pledge, form, proof):
    account = services.ForgeProof(proof.forge, proof.username)
    if form.cleaned_data.get("website"):  # a bot: the same page, nothing kept
        receipt = new_token()
    else:
        receipt = services.commit_verified(pledge, form.signature_data(), account)
    context = {"pledge": pledge, "receipt": receipt, "proof": proof}
    response = render(request, "pledges/committed_forge.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


def committed(request, slug):
    return render(request, "pledges/committed.html", {"pledge": get_published_pledge(slug)})


@csrf_exempt  # the token is the proof; see web/http.py
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    try:
        if request.method == "POST":
            commitment = services.confirm(token)
            return render(request, "pledges/confirmed.html", {"pledge": commitment.pledge})
        commitment = services.commitment_for_token(token)
    except services.PledgeError as exc:
        return render(request, "signatures/invalid.html", {"message": str(exc)}, status=exc.status)
    if commitment.is_confirmed:
        return render(request, "pledges/confirmed.html", {"pledge": commitment.pledge})
    return render(
        request, "pledges/confirm.html", {"pledge": commitment.pledge, "commitment": commitment}
    )


GONE = (
    "There is no commitment behind this link. It may have been withdrawn, deleted when its "
    "pledge failed, or the link may be mistyped."
)


@csrf_exempt  # the receipt is the proof; see web/http.py
@sensitive_post_parameters("name", "affiliation", "comment")
@require_http_methods(["GET", "HEAD", "POST"])
def manage(request, receipt):
    """The committer's private page; an unknown link and a withdrawn commitment look alike."""
    commitment = services.commitment_for_receipt(receipt)
    if commitment is None:
        return render(request, "signatures/gone.html", {"message": GONE}, status=404)
    action = request.POST.get("action") if request.method == "POST" else None
    context: dict = {"commitment": commitment, "pledge": commitment.pledge}
    if action == "withdraw":
        return render(request, "pledges/withdraw.html", context)
    if action == "withdraw-confirmed":
        try:
            services.withdraw(receipt)
        except services.PledgeError as exc:
            return render(
                request, "pledges/manage.html", {**context, "error": str(exc)}, status=exc.status
            )
        return render(request, "pledges/withdrawn.html", context)
    if action == "display":
        form = CommitmentDisplayForm(request.POST, pledge=commitment.pledge)
        if form.is_valid():
            try:
                services.change_display(receipt, **form.cleaned_data)
            except services.PledgeError as exc:
                form.add_error("name", str(exc))
        if form.errors:
            return render(request, "pledges/manage.html", {**context, "form": form}, status=400)
        commitment.refresh_from_db()
        context["saved"] = True
    form = CommitmentDisplayForm(
        pledge=commitment.pledge,
        initial={
            "display": commitment.display,
            "public_after": commitment.public_after,
            "name": commitment.name,
            "affiliation": commitment.affiliation,
            "comment": commitment.comment,
        },
    )
    return render(request, "pledges/manage.html", {**context, "form": form})


def badge(request, slug):
    return allow_any_origin(
        cached_response(request, f"pledge:{slug}:badge", 5, 60, lambda: _badge(slug))
    )


def _badge(slug):
    pledge = get_published_pledge(slug)
    if pledge.status == Pledge.Status.MET:
        value = f"met: {pledge.commitment_count:,}"
    elif pledge.status == Pledge.Status.FAILED:
        value = f"not met: {pledge.commitment_count:,} of {pledge.threshold:,}"
    else:
        value = f"{pledge.commitment_count:,} of {pledge.threshold:,}"
    return HttpResponse(draw_badge("committed", value).encode(), content_type="image/svg+xml")


class PledgeFeed(Feed):
    """A pledge's own Atom feed: published, then met or failed (dated as the page dates
    them: the decision to the hour). A pledge on a letter is on the letter's feed too."""

    feed_type = Atom1Feed

    def get_object(self, request, slug):
        return get_published_pledge(slug)

    def title(self, pledge):
        return f"Pledge: I will {pledge.action}"

    def link(self, pledge):
        return pledge.get_absolute_url()

    def subtitle(self, pledge):
        return (
            f"I will {pledge.action}, if {pledge.threshold:,} people commit by "
            f"{pledge.deadline:%d %B %Y}."
        )

    def items(self, pledge):
        entries = [("published", pledge.published_at, f"Published: {self.subtitle(pledge)}")]
        if pledge.met_at:
            entries.append(("met", pledge.met_at, f"Met: {pledge.commitment_count:,} committed"))
        if pledge.failed_at:
            entries.append(
                (
                    "failed",
                    pledge.failed_at,
                    f"Not met: {pledge.commitment_count:,} of {pledge.threshold:,} committed",
                )
            )
        return [
            {"id": what, "at": at, "text": text, "url": self._url(pledge, what)}
            for what, at, text in reversed(entries)
        ]

    @staticmethod
    def _url(pledge, what: str) -> str:
        return f"{settings.BASE_URL}{pledge.get_absolute_url()}#{what}"

    def item_title(self, item):
        return item["text"]

    def item_description(self, item):
        return item["text"]

    def item_link(self, item):
        return item["url"]

    def item_guid(self, item):
        return item["url"]

    def item_pubdate(self, item):
        return item["at"]
