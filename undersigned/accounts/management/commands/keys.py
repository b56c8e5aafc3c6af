"""``undersigned keys generate|add|list``: organizers' sealing keys.

The names, affiliations and comments of hidden signers are sealed to the public keys of a
letter's organizers. The private key stays in a passphrase-protected file with the organizer;
the database holds only public keys.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, transaction

from undersigned.accounts import services
from undersigned.accounts.models import OrganizerKey
from undersigned.lib import sealing


class Command(BaseCommand):
    help = (
        "Manage organizers' sealing keys. Hidden signers' names, affiliations and comments are "
        "encrypted to the public keys of a letter's organizers; only a private key (kept by "
        "its organizer in a passphrase-protected file, never on the server) can read them."
    )
    # `keys generate` without --user works anywhere, even without a configured instance; the
    # actions that use the database run the system checks themselves.
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")

        generate = sub.add_parser(
            "generate",
            help=(
                "Make a key pair: write the private key, protected by a passphrase, to --out "
                "(mode 0600) and print the public key and its id. Best run on the organizer's "
                "own computer; then register the public key on the server with `keys add`."
            ),
            description=(
                "Make a key pair. The private key is written to --out, encrypted with a key "
                "derived from a passphrase (Argon2id); the passphrase is asked twice unless "
                "--passphrase-file is given. Keep the file and its passphrase: without both, "
                "hidden signers' names sealed to this key cannot be read by anyone."
            ),
        )
        generate.add_argument(
            "--out", required=True, metavar="FILE", help="New file for the private key."
        )
        generate.add_argument(
            "--user",
            metavar="USERNAME",
            help="Also register the public key for this user in the database (on the server).",
        )
        generate.add_argument("--label", default="", help="A note, e.g. 'laptop' (with --user).")
        generate.add_argument(
            "--passphrase-file",
            metavar="FILE",
            help="Read the passphrase from the first line of FILE instead of asking for it.",
        )

        add = sub.add_parser(
            "add",
            help="Register a public key (made with `keys generate` elsewhere) for a user.",
        )
        add.add_argument("username", metavar="USERNAME")
        add.add_argument("public_key", metavar="PUBLIC_KEY", help="The base64 public key.")
        add.add_argument("--label", default="", help="A note, e.g. 'laptop'.")

        sub.add_parser(
            "list",
            help="List registered keys: user, key id, label, date (public information only).",
        )

    def handle(self, *args, action, **options):
        try:
            return getattr(self, f"_{action}")(**options)
        except DatabaseError as exc:
            raise CommandError(
                f"The database cannot be used ({exc}); is it migrated? Run `undersigned migrate`."
            ) from None

    def _generate(self, out, user, label, passphrase_file, **options):
        if user is not None:
            self._check_instance(options)
            user = self._get_user(user)
        if label and user is None:
            raise CommandError("--label is stored with the registered key; it needs --user.")
        if len(label) > 100:
            raise CommandError("--label is longer than 100 characters.")
        path = Path(out)
        if path.exists() or path.is_symlink():
            raise CommandError(f"{out} exists already; choose a new file for the private key.")
        if not path.parent.is_dir():
            raise CommandError(f"Cannot create {out}: the folder {path.parent} does not exist.")
        if passphrase_file is not None:
            passphrase = self._read_passphrase_file(passphrase_file)
        else:
            passphrase = self._ask_passphrase()
        private, public = sealing.generate_keypair()
        try:
            content = sealing.protect_private_key(private, passphrase)
        except sealing.SealingError as exc:
            raise CommandError(str(exc)) from None
        self._write_new_file(path, content)
        self.stdout.write(f"Private key written to {out} (readable only by you).")
        self.stdout.write(f"Public key: {public}")
        self.stdout.write(f"Key id: {sealing.key_id(public)}")
        # Register only once the private key is safely on disk: a key in the database whose
        # private half is lost would seal hidden signers' names for nobody.
        if user is not None:
            self._register(user, public, label)
            self.stdout.write(f"Registered for {user.get_username()}.")
        else:
            self.stdout.write(
                f"Register it on the server with: undersigned keys add USERNAME {public}"
            )

    def _add(self, username, public_key, label, **options):
        self._check_instance(options)
        user = self._get_user(username)
        if len(label) > 100:
            raise CommandError("--label is longer than 100 characters.")
        try:
            public = sealing.validate_public_key(public_key)
        except sealing.SealingError as exc:
            raise CommandError(f"Invalid PUBLIC_KEY: {exc}") from None
        key = self._register(user, public, label)
        self.stdout.write(f"Key {key.key_id} registered for {user.get_username()}.")

    def _list(self, **options):
        self._check_instance(options)
        keys = OrganizerKey.objects.select_related("user").order_by("user__username", "created_at")
        if not keys:
            self.stdout.write("No keys yet; make one with `undersigned keys generate`.")
        for key in keys:
            self.stdout.write(
                f"{key.user.get_username()}\t{key.key_id}\t{key.label or '-'}\t"
                f"{key.created_at:%Y-%m-%d}"
            )

    def _check_instance(self, options):
        if not options.get("skip_checks"):
            self.check(display_num_errors=False)

    def _get_user(self, username):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}; create one with createsuperuser.")
        return user

    def _register(self, user, public, label) -> OrganizerKey:
        holder = OrganizerKey.objects.filter(key_id=sealing.key_id(public)).first()
        if holder is not None:
            raise CommandError(
                f"This public key is registered already (key {holder.key_id} of "
                f"{holder.user.get_username()})."
            )
        try:
            with transaction.atomic():
                return services.add_key(user, public, label, via="command")
        except IntegrityError:
            raise CommandError("This public key is registered already.") from None

    def _read_passphrase_file(self, name) -> str:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read --passphrase-file {name!r}: {exc.strerror}.") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"--passphrase-file {name!r} is not UTF-8 text.") from None
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
        if not passphrase:
            raise CommandError(f"The first line of --passphrase-file {name!r} is empty.")
        return passphrase

    def _ask_passphrase(self) -> str:
        try:
            first = getpass.getpass("Passphrase for the private key: ")
            second = getpass.getpass("The same passphrase again: ")
        except (EOFError, KeyboardInterrupt):
            raise CommandError("No passphrase given; nothing was written.") from None
        if first != second:
            raise CommandError("The two passphrases differ; nothing was written.")
        if not first:
            raise CommandError("The passphrase is empty; nothing was written.")
        return first

    def _write_new_file(self, path: Path, content: bytes) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{path} exists already; choose a new file.") from None
        except OSError as exc:
            raise CommandError(f"Cannot create {path}: {exc.strerror}.") from None
        try:
            with os.fdopen(fd, "wb") as file:
                os.fchmod(file.fileno(), 0o600)  # whatever the umask
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
