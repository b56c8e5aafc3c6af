"""``undersigned letter create|list|export``: the organizer's tasks from the command line."""

from __future__ import annotations

import datetime
import getpass
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from undersigned.letters import organizers, services, timeline
from undersigned.letters.forms import LetterForm
from undersigned.letters.models import Demand, Letter, Organizer
from undersigned.lib import sealing
from undersigned.lib.text import reject_control_characters
from undersigned.organize.forms import InvitationForm
from undersigned.signatures import export as exports

OPTION = {
    "slug": "SLUG",
    "domains": "--domain",
    "body": "--body-file",
    "public_after_choices": "--public-after",
}


class Command(BaseCommand):
    help = (
        "Create, list and export letters; revise their text, post updates, set demands, "
        "record responses, and manage their organizers."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")

        create = sub.add_parser("create", help="Create a letter (a draft unless --publish).")
        create.add_argument("slug")
        create.add_argument("--title", required=True)
        create.add_argument("--body-file", required=True, help="Markdown file; - reads stdin.")
        create.add_argument("--addressed-to", default="")
        create.add_argument(
            "--visibility", default=Letter.Visibility.PUBLIC, choices=Letter.Visibility.values
        )
        create.add_argument("--publish", action="store_true", help="Open it for signatures now.")
        create.add_argument("--organization", default="", help="The signers' organization.")
        create.add_argument(
            "--domain",
            action="append",
            default=[],
            metavar="D",
            help="An email domain of the organization (repeatable); a signer who confirms an "
            "address there is verified.",
        )
        create.add_argument(
            "--include-subdomains", action="store_true", help="Also verify subdomains."
        )
        create.add_argument(
            "--public-after",
            default="",
            metavar="N,N",
            help="Counts of your own, besides 50, 100 and 300, at which a signer may choose to "
            "have their name shown (comma-separated).",
        )
        create.add_argument(
            "--discreet-mail",
            action="store_true",
            help="Mail naming neither letter nor organizers (always on for members-only).",
        )
        create.add_argument(
            "--organizer",
            action="append",
            default=[],
            metavar="USERNAME",
            help="An organizer's username (repeatable).",
        )

        sub.add_parser("list", help="List all letters with their counts.")

        export = sub.add_parser("export", help="Stream confirmed signatures to stdout.")
        export.add_argument("slug")
        export.add_argument("--format", default="csv", choices=exports.FORMATS)
        export.add_argument(
            "--key",
            metavar="FILE",
            help="Your private key file (from `undersigned keys generate`): decrypts the names "
            "of signers who chose to hide them. Asks for its passphrase.",
        )
        export.add_argument("--passphrase-file", metavar="FILE", help="Read the passphrase here.")

        revise = sub.add_parser(
            "revise", help="Publish a new version of a published letter's text."
        )
        revise.add_argument("slug")
        revise.add_argument("--body-file", required=True, help="Markdown file; - reads stdin.")
        revise.add_argument("--title", help="A new title (else the current one).")
        revise.add_argument(
            "--corrections-only",
            action="store_true",
            help="The new version only corrects (typos, links); what is asked is the same.",
        )

        update = sub.add_parser("update", help="Post a dated update under the letter.")
        update.add_argument("slug")
        update.add_argument("--body-file", required=True, help="Markdown file; - reads stdin.")
        update.add_argument(
            "--mail-subscribers", action="store_true", help="Also mail those who asked for updates."
        )

        demand = sub.add_parser(
            "demand",
            help="Add a demand (--text; prints its id) or set one's status (--id, --status).",
        )
        demand.add_argument("slug")
        demand.add_argument("--text", help="A new demand.")
        demand.add_argument("--id", type=int, help="The demand whose status to set.")
        demand.add_argument("--status", choices=Demand.Status.values)
        demand.add_argument("--note", default="", help="A note with the new status.")
        demand.add_argument(
            "--mail-subscribers", action="store_true", help="Mail those who asked for updates."
        )

        response = sub.add_parser(
            "response", help="Record a public statement by the addressee, with its sources."
        )
        response.add_argument("slug")
        response.add_argument("--by", required=True, help="Who said it.")
        response.add_argument("--role", default="", help="Their role, e.g. 'Chief executive'.")
        response.add_argument("--date", required=True, help="When it was said: YYYY-MM-DD.")
        response.add_argument("--quote-file", required=True, help="The quote or a summary.")
        response.add_argument(
            "--source", action="append", required=True, metavar="URL", help="Repeatable."
        )
        response.add_argument("--note-file", help="The organizers' note beside it.")
        response.add_argument(
            "--mail-subscribers", action="store_true", help="Mail those who asked for updates."
        )

        team = sub.add_parser(
            "organizers", help="List a letter's organizers, invite one, or remove one."
        )
        team.add_argument("slug")
        team.add_argument("--invite", metavar="EMAIL", help="Mail a one-time invitation.")
        team.add_argument("--role", choices=Organizer.Role.values, default=Organizer.Role.EDITOR)
        team.add_argument("--remove", metavar="USERNAME")

    def handle(self, *args, action, **options):
        try:
            return getattr(self, f"_{action}")(**options)
        except (services.LetterError, organizers.TeamError) as exc:
            raise CommandError(str(exc)) from None

    def _letter(self, slug) -> Letter:
        letter = Letter.objects.filter(slug=slug).first()
        if letter is None:
            raise CommandError(
                f"There is no letter {slug!r}; `undersigned letter list` shows them."
            )
        return letter

    def _revise(self, slug, body_file, title, corrections_only, **_):
        letter = self._letter(slug)
        body = self._read_body(body_file).replace("\r\n", "\n")
        form = LetterForm(
            {
                **{name: getattr(letter, name) for name in LetterForm.Meta.fields},
                "body": body,
                "title": title if title is not None else letter.title,
            },
            instance=Letter.objects.get(pk=letter.pk),
        )
        problems = {k: v for k, v in form.errors.items() if k in ("body", "title")}
        if problems:
            raise CommandError(
                "The letter was not revised. "
                + "; ".join(
                    f"--{k.replace('body', 'body-file')}: {' '.join(map(str, v))}"
                    for k, v in problems.items()
                )
            )
        version = services.revise(
            letter,
            title=title,
            body=form.cleaned_data["body"],
            corrections_only=corrections_only,
            via="command",
        )
        self.stdout.write(f"Version {version.number} of {slug!r} published: {version.hash}")

    def _update(self, slug, body_file, mail_subscribers, **_):
        letter = self._letter(slug)
        body = self._read_body(body_file).replace("\r\n", "\n")
        self._clean_text(body, "--body-file", multiline=True)
        update = timeline.post_update(letter, body, mail=mail_subscribers, via="command")
        self.stdout.write(f"Update {update.pk} posted on {slug!r}.")

    def _demand(self, slug, text, id, status, note, mail_subscribers, **_):  # noqa: A002
        letter = self._letter(slug)
        if (text is None) == (id is None):
            raise CommandError("Give either --text (a new demand) or --id N --status S.")
        if text is not None:
            self._clean_text(text, "--text")
            demand = timeline.add_demand(letter, text, via="command")
            self.stdout.write(str(demand.pk))
            return
        if status is None:
            raise CommandError("Give --status open, met, partly-met or refused with --id.")
        found = Demand.objects.filter(pk=id, letter=letter).first()
        if found is None:
            raise CommandError(f"Letter {slug!r} has no demand {id}.")
        self._clean_text(note, "--note", multiline=True)
        timeline.set_demand_status(found, status, note, mail=mail_subscribers, via="command")
        self.stdout.write(f"Demand {id}: {status}.")

    def _response(self, slug, by, role, date, quote_file, source, note_file, mail_subscribers, **_):
        letter = self._letter(slug)
        try:
            said_on = datetime.date.fromisoformat(date)
        except ValueError:
            raise CommandError(f"--date {date!r} is not a date such as 2026-06-22.") from None
        quote = self._read_body(quote_file)
        note = self._read_body(note_file) if note_file else ""
        for value, option in ((by, "--by"), (role, "--role")):
            self._clean_text(value, option)
        for value, option in ((quote, "--quote-file"), (note, "--note-file")):
            self._clean_text(value, option, multiline=True)
        response = timeline.record_response(
            letter,
            by=by,
            role=role,
            said_on=said_on,
            quote=quote,
            sources=source,
            note=note,
            mail=mail_subscribers,
            via="command",
        )
        self.stdout.write(f"Response {response.pk} recorded on {slug!r}.")

    def _organizers(self, slug, invite, role, remove, **_):
        letter = self._letter(slug)
        if invite and remove:
            raise CommandError("Give --invite or --remove, not both.")
        if invite:
            form = InvitationForm({"email": invite, "role": role})
            if not form.is_valid():
                raise CommandError(f"--invite: {' '.join(map(str, form.errors.get('email', [])))}")
            organizers.invite(letter, form.cleaned_data["email"], role, via="command")
            self.stdout.write(f"Invitation to organize {slug!r} as {role} mailed to {invite}.")
            return
        if remove:
            organizers.remove(letter, remove, via="command")
            self.stdout.write(f"{remove} no longer organizes {slug!r}.")
            return
        for member in Organizer.objects.filter(letter=letter).select_related("user").order_by("id"):
            self.stdout.write(f"{member.user.get_username()}\t{member.role}")

    def _clean_text(self, value: str, option: str, multiline: bool = False) -> None:
        try:
            reject_control_characters(value, multiline=multiline)
        except ValidationError as exc:
            raise CommandError(f"{option}: {' '.join(exc.messages)}") from None

    def _create(
        self,
        slug,
        title,
        body_file,
        addressed_to,
        visibility,
        publish,
        organizer,
        organization,
        domain,
        include_subdomains,
        discreet_mail,
        public_after="",
        **_,
    ):
        body = self._read_body(body_file)
        users = []
        for username in organizer:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(
                    f"There is no user {username!r}; create one with createsuperuser."
                )
            users.append(user)
        form = LetterForm(
            {
                "slug": slug,
                "title": title,
                "body": body,
                "addressed_to": addressed_to,
                "visibility": visibility,
                "organization": organization,
                "domains": " ".join(domain),
                "include_subdomains": include_subdomains,
                "discreet_mail": discreet_mail,
                "public_after_choices": public_after,
            }
        )
        if not form.is_valid():
            problems = "; ".join(
                f"{OPTION.get(name, '--' + name.replace('_', '-'))}: {' '.join(map(str, errors))}"
                for name, errors in form.errors.items()
            )
            raise CommandError(f"The letter was not created. {problems}")
        letter = services.create(form.save(commit=False), users, via="command", publish=publish)
        state = "published" if publish else "saved as a draft"
        self.stdout.write(f"Letter {letter.slug!r} {state}: {letter.get_absolute_url()}")

    def _read_body(self, body_file: str) -> str:
        try:
            raw = sys.stdin.buffer.read() if body_file == "-" else Path(body_file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read --body-file {body_file!r}: {exc.strerror}.") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"--body-file {body_file!r} is not UTF-8 text (bad byte at position {exc.start})."
            ) from None

    def _list(self, **_):
        letters = Letter.objects.order_by("slug")
        if not letters:
            self.stdout.write("No letters yet.")
        for letter in letters:
            self.stdout.write(
                f"{letter.slug}\t{letter.status_for_readers}\t{letter.visibility}\t"
                f"{letter.signature_count} signed\t{letter.title}"
            )

    def _export(self, slug, format, key, passphrase_file, **_):  # noqa: A002  (option name)
        letter = Letter.objects.filter(slug=slug).first()
        if letter is None:
            raise CommandError(
                f"There is no letter {slug!r}; `undersigned letter list` shows them."
            )
        private_key = self._open_key(key, passphrase_file) if key else None
        out = sys.stdout
        for chunk in services.export(letter, format, private_key, via="command"):
            out.write(chunk)
        out.flush()

    def _open_key(self, key: str, passphrase_file: str | None) -> bytes:
        try:
            data = Path(key).read_bytes()
            if passphrase_file:
                passphrase = Path(passphrase_file).read_text().splitlines()[0]
            else:
                passphrase = getpass.getpass(f"Passphrase for {key}: ")
        except (OSError, IndexError) as exc:
            raise CommandError(f"Cannot read the key or passphrase file: {exc}") from None
        try:
            return sealing.open_private_key(data, passphrase)
        except sealing.SealingError as exc:
            raise CommandError(str(exc)) from None
