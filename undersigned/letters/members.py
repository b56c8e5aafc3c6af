"""Members-only letters: a visitor proves an address at one of the organization's domains by
a one-time link, which opens that letter (and only that one) for their browser session."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from undersigned.letters.models import Letter, MemberPass
from undersigned.lib.emails import ascii_address, canonical_email
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import new_token, token_hash
from undersigned.moderation.models import Policy
from undersigned.outbox import mail, quota
from undersigned.signatures.services import MemberProof

SESSION_KEY = "member_of_letters"
PROOFS_KEY = "member_proofs"  # letter id -> what its pass proved, until the member signs


def is_member(request, letter: Letter) -> bool:
    return letter.pk in request.session.get(SESSION_KEY, [])


def proof(request, letter: Letter) -> MemberProof | None:
    """What this session's pass proved for ``letter``: the address's keyed hash (never the
    address), so that the member signs without a second mail. None once they have signed."""
    found = request.session.get(PROOFS_KEY, {}).get(str(letter.pk))
    return MemberProof(*found) if found else None


def spend_proof(request, letter: Letter) -> None:
    proofs = dict(request.session.get(PROOFS_KEY, {}))
    proofs.pop(str(letter.pk), None)
    request.session[PROOFS_KEY] = proofs


def can_read(request, letter: Letter) -> bool:
    return (
        not letter.members_only
        or is_member(request, letter)
        or (request.user.is_authenticated and letter.organizers.filter(pk=request.user.pk).exists())
    )


class MemberForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Your work email address")

    def __init__(self, letter: Letter, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.letter = letter

    def clean_email(self):
        value = self.cleaned_data["email"]
        local, _, domain = value.rpartition("@")
        try:
            value = ascii_address(local, domain)
        except UnicodeError:
            raise ValidationError("The domain of this email address is not valid.") from None
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if not self.letter.verified_domain(canonical_email(value).rpartition("@")[2]):
            raise ValidationError(
                f"Use your address at {' or '.join(self.letter.domain_list) or 'the organization'}."
            )
        return value


def gate(request, letter: Letter, form: MemberForm | None = None, status: int = 200):
    """What an outsider sees of a members-only letter: title, count, and the form."""
    return render(
        request,
        "letters/members_gate.html",
        {"letter": letter, "form": form or MemberForm(letter)},
        status=status,
    )


@csrf_exempt  # see web/http.py
@sensitive_post_parameters("email")
@require_POST
def request_pass(request, slug):
    from undersigned.letters.views import get_published_letter

    letter = get_published_letter(slug)
    if not letter.members_only:
        return redirect(letter)
    form = MemberForm(letter, request.POST)
    if not form.is_valid():
        return gate(request, letter, form, status=400)
    token = new_token()
    with transaction.atomic():
        # The same answer whether or not the address had its few mails this hour already.
        address = form.cleaned_data["email"]
        if quota.allow([address])[0]:
            canonical = canonical_email(address)
            MemberPass.objects.create(
                letter=letter,
                token_hash=token_hash(token).hex(),
                # To the hour, like every time about a signer (and an hour more).
                expires_at=this_hour() + timedelta(hours=settings.MEMBER_PASS_TTL_HOURS + 1),
                email_hash=letter.email_hash(canonical),
                verified_domain=letter.verified_domain(canonical.rpartition("@")[2]),
                blocked=Policy.current().address_blocked(address.lower())
                or Policy.current().address_blocked(canonical),
            )
            mail.send_member_pass(address, letter, token)
    return render(request, "letters/members_sent.html", {"letter": letter})


@csrf_exempt  # the token is the proof; see web/http.py
@require_http_methods(["GET", "HEAD", "POST"])
def use_pass(request, token):
    """GET shows a button (mail scanners open links); the POST spends the pass."""
    row = (
        MemberPass.objects.select_related("letter")
        .filter(token_hash=token_hash(token).hex(), expires_at__gt=timezone.now())
        .first()
    )
    if row is None:
        return render(
            request,
            "signatures/invalid.html",
            {
                "message": "This link is not valid, was already used, or has expired. Ask for a "
                "new one on the letter's page."
            },
            status=404,
        )
    if request.method != "POST":
        return render(request, "letters/members_open.html", {"letter": row.letter})
    if not MemberPass.objects.filter(pk=row.pk).delete()[0]:
        return redirect(row.letter)  # a double click: the first click already opened it
    request.session.cycle_key()
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), row.letter_id]
    if row.email_hash:
        proofs = dict(request.session.get(PROOFS_KEY, {}))
        proofs[str(row.letter_id)] = [row.email_hash, row.verified_domain, row.blocked]
        request.session[PROOFS_KEY] = proofs
    return redirect(row.letter)
