"""``undersigned letter create|list|export``: the organizer's tasks from the command line."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from undersigned.letters import services
from undersigned.letters.forms import LetterForm
from undersigned.letters.models import Letter
from undersigned.lib import sealing
from undersigned.signatures import export as exports

OPTION = {"slug": "SLUG", "domains": "--domain", "body": "--body-file"}


class Command(BaseCommand):
    help = "Create, list and export letters."

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

    def handle(self, *args, action, **options):
        return getattr(self, f"_{action}")(**options)

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
