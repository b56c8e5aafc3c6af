"""``undersigned demo``: a demo organizer and letter with a few dozen confirmed signatures.

Safe to run again: the letter is created once; the organizer's password is reset and printed."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from undersigned.letters import organizers as team
from undersigned.letters import services, timeline
from undersigned.letters.models import Letter, Organizer
from undersigned.lib.emails import canonical_email
from undersigned.lib.times import this_hour
from undersigned.pledges import services as pledges
from undersigned.pledges.models import Pledge
from undersigned.signatures.counting import reconcile
from undersigned.signatures.models import Signature

SLUG = "better-bike-lanes"
PLEDGE_SLUG = "bike-week"
TITLE = "Safe bike lanes on Harbour Road before winter"
ADDRESSED_TO = "Riverside Town Council"
BODY = """\
To the Riverside Town Council,

We, residents, parents, shop owners and commuters of Riverside, ask the Council to build
**protected bike lanes on Harbour Road** before the winter term begins.

Harbour Road is the only direct route between the east estates and the two schools. Every
morning children cycle there between parked cars and delivery vans. The Council's own survey
from last spring counted more than 600 cyclists a day on it.

## What we ask

1. A kerb-separated lane in both directions between the bridge and Station Square.
2. A 20 mph limit on Harbour Road during school hours.
3. A public progress report every month until the work is done.

We are ready to help: with counts, with ideas, and with our signatures below.
"""

FIRST = [
    "Amira",
    "Ben",
    "Chen",
    "Dara",
    "Elif",
    "Finn",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tove",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Novak",
    "Haddad",
    "Silva",
    "Brennan",
    "Kowalski",
    "Ahmed",
    "Fischer",
    "Costa",
]
AFFILIATIONS = [
    "",
    "",
    "Harbour Road Traders",
    "Eastfield Primary PTA",
    "Riverside Cycling Club",
    "",
    "Parent",
    "Nurse, Riverside General",
    "",
]


class Command(BaseCommand):
    help = "Load a demo organizer and letter with a few dozen signatures (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--signatures", type=int, default=36)

    def _timeline(self, letter, organizer) -> None:
        """A demand, an update and the council's answer: the letter's life, in small."""
        demand = timeline.add_demand(
            letter, "Protected cycle lanes on Mill Road by spring", actor=organizer, via="command"
        )
        timeline.post_update(
            letter,
            "We handed the letter to the council's transport committee this morning.",
            actor=organizer,
            via="command",
        )
        timeline.record_response(
            letter,
            by="Riverside Town Council",
            role="Transport committee",
            said_on=timezone.now().date(),
            quote="The committee will consider cycle lanes in its next budget.",
            sources=["https://example.org/riverside/minutes"],
            note="The last budget made the same promise.",
            actor=organizer,
            via="command",
        )
        timeline.set_demand_status(
            demand, "partly-met", "Promised, not yet funded.", actor=organizer, via="command"
        )

    def handle(self, *args, signatures, **options):
        users = get_user_model()
        password = secrets.token_urlsafe(9)
        with transaction.atomic():
            organizer, _ = users.objects.get_or_create(
                username="organizer", defaults={"email": "organizer@example.org"}
            )
            organizer.set_password(password)
            organizer.is_staff = organizer.is_superuser = True
            organizer.save()
            letter = Letter.objects.filter(slug=SLUG).first()
            if letter is None:
                letter = services.create(
                    Letter(
                        slug=SLUG,
                        title=TITLE,
                        body=BODY,
                        addressed_to="Riverside Town Council",
                        organized_by="Riverside Cyclists",
                        goal=500,
                    ),
                    [organizer],
                    via="command",
                    publish=True,
                )
                self._sign(letter, signatures)
                self._timeline(letter, organizer)
            elif not letter.organizers.filter(pk=organizer.pk).exists():
                team.change(letter, roles={organizer: Organizer.Role.OWNER}, via="command")
            pledge = self._pledge(letter)
        reconcile()
        letter.refresh_from_db()
        self.stdout.write(
            f"Demo letter: {settings.BASE_URL}{letter.get_absolute_url()} "
            f"({letter.signature_count} signatures)\n"
            f"Organizer log-in: {settings.BASE_URL}/accounts/login/ "
            f"user 'organizer', password '{password}' (also an operator: /admin/)\n"
            f"Demo pledge: {settings.BASE_URL}{pledge.get_absolute_url()}"
        )

    def _pledge(self, letter: Letter):
        """A conditional pledge on the demo letter, open for two months."""
        found = Pledge.objects.filter(slug=PLEDGE_SLUG).first()
        if found is not None:
            return found
        spec = pledges.PledgeSpec(
            slug=PLEDGE_SLUG,
            action="cycle to work every day of Bike Week, and bring a colleague",
            threshold=100,
            deadline=(timezone.now() + timedelta(days=60)).date(),
            letter=letter,
        )
        return pledges.create(spec, publish=True, via="command")

    def _sign(self, letter: Letter, count: int) -> None:
        rng = random.Random(2026)  # noqa: S311  demo data, not secrets
        displays = [Signature.Display.PUBLIC] * 6 + [
            Signature.Display.HIDDEN,
            Signature.Display.COUNT,
        ]
        signatures = []
        for n in range(count):
            display = rng.choice(displays)
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            affiliation = rng.choice(AFFILIATIONS)
            public = display == Signature.Display.PUBLIC  # others keep no name (no demo key)
            signatures.append(
                Signature(
                    letter=letter,
                    name=name if public else "",
                    affiliation=affiliation if public else "",
                    email_hash=letter.email_hash(canonical_email(f"demo-{n}@example.org")),
                    display=display,
                    status=Signature.Status.CONFIRMED,
                    confirmed_at=this_hour(),
                )
            )
        Signature.objects.bulk_create(signatures)
