"""``undersigned pledge create|list|publish|announce``: pledges from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from undersigned.letters.models import Letter
from undersigned.pledges import services
from undersigned.pledges.forms import AnnouncementForm, PledgeForm
from undersigned.pledges.models import Pledge

OPTION = {"slug": "SLUG", "domains": "--domain"}


class Command(BaseCommand):
    help = "Create, list, publish and announce conditional pledges."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")
        create = sub.add_parser("create", help="Create a pledge (a draft unless --publish).")
        create.add_argument("slug")
        create.add_argument(
            "--action",
            required=True,
            dest="pledge_action",
            metavar="A",
            help="What each committer will do: 'I will A'.",
        )
        create.add_argument(
            "--threshold", required=True, metavar="N", help="How many must commit for it to be met."
        )
        create.add_argument(
            "--deadline",
            required=True,
            metavar="YYYY-MM-DD",
            help="Commitments close at the end of this day (UTC).",
        )
        create.add_argument("--letter", metavar="SLUG", help="Attach it to this letter.")
        create.add_argument(
            "--verified-only",
            action="store_true",
            help="Only people verified at a domain (or a forge account).",
        )
        create.add_argument(
            "--domain",
            action="append",
            default=[],
            metavar="D",
            help="A domain that verifies committers (repeatable; added to the letter's).",
        )
        create.add_argument(
            "--organizer",
            action="append",
            default=[],
            metavar="USERNAME",
            help="An organizer of a pledge on its own (repeatable): hidden "
            "names are sealed to their keys.",
        )
        create.add_argument("--publish", action="store_true", help="Open it for commitments now.")

        sub.add_parser("list", help="List all pledges with their counts.")

        publish = sub.add_parser("publish", help="Open a draft pledge for commitments.")
        publish.add_argument("slug")

        announce = sub.add_parser(
            "announce", help="Send the one announcement of a met pledge to its committers."
        )
        announce.add_argument("slug")
        announce.add_argument("--subject", required=True)
        announce.add_argument("--body-file", required=True, help="Plain text; - reads stdin.")

    def handle(self, *args, action, **options):
        try:
            return getattr(self, f"_{action}")(**options)
        except services.PledgeError as exc:
            raise CommandError(str(exc)) from None

    def _pledge(self, slug) -> Pledge:
        pledge = Pledge.objects.filter(slug=slug).first()
        if pledge is None:
            raise CommandError(
                f"There is no pledge {slug!r}; `undersigned pledge list` shows them."
            )
        return pledge

    def _create(
        self,
        slug,
        pledge_action,
        threshold,
        deadline,
        letter,
        verified_only,
        domain,
        organizer,
        publish,
        **_,
    ):
        form = PledgeForm(
            {
                "slug": slug,
                "action": pledge_action,
                "threshold": threshold,
                "deadline": deadline,
                "domains": " ".join(domain),
            }
        )
        if not form.is_valid():
            raise CommandError(
                "The pledge was not created. "
                + "; ".join(
                    f"{OPTION.get(k, '--' + k)}: {' '.join(map(str, v))}"
                    for k, v in form.errors.items()
                )
            )
        attached = None
        if letter:
            attached = Letter.objects.filter(slug=letter).first()
            if attached is None:
                raise CommandError(
                    f"There is no letter {letter!r}; `undersigned letter list` shows them."
                )
        users = []
        for username in organizer:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"There is no user {username!r}.")
            users.append(user)
        data = form.cleaned_data
        pledge = services.create(
            services.PledgeSpec(
                slug=data["slug"],
                action=data["action"],
                threshold=data["threshold"],
                deadline=data["deadline"],
                letter=attached,
                verified_only=verified_only,
                domains=tuple(data["domains"]),
            ),
            users,
            publish=publish,
            via="command",
        )
        state = "published" if pledge.is_published else "created as a draft"
        self.stdout.write(f"Pledge {pledge.slug!r} {state}: {pledge.get_absolute_url()}")

    def _list(self, **_):
        pledges = Pledge.objects.select_related("letter").order_by("slug")
        if not pledges:
            self.stdout.write("No pledges yet.")
        for pledge in pledges:
            status = pledge.status if pledge.is_published else "draft"
            self.stdout.write(
                f"{pledge.slug}\t{status}\t{pledge.commitment_count} of {pledge.threshold}\t"
                f"by {pledge.deadline.isoformat()}\t"
                f"{pledge.letter.slug if pledge.letter else '-'}\t{pledge.action}"
            )

    def _publish(self, slug, **_):
        pledge = self._pledge(slug)
        services.publish(pledge, via="command")
        self.stdout.write(f"Pledge {slug!r} published.")

    def _announce(self, slug, subject, body_file, **_):
        pledge = self._pledge(slug)
        try:
            raw = sys.stdin.buffer.read() if body_file == "-" else Path(body_file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read --body-file {body_file!r}: {exc.strerror}.") from None
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"--body-file {body_file!r} is not UTF-8 text (bad byte at position {exc.start})."
            ) from None
        form = AnnouncementForm({"subject": subject, "body": body})
        if not form.is_valid():
            raise CommandError(
                "Nothing was sent. "
                + "; ".join(
                    f"{'--body-file' if k == 'body' else '--' + k}: {' '.join(map(str, v))}"
                    for k, v in form.errors.items()
                )
            )
        services.announce(
            pledge, form.cleaned_data["subject"], form.cleaned_data["body"], via="command"
        )
        self.stdout.write(f"The announcement of {slug!r} goes to its committers shortly.")
