"""``undersigned tips read|reply|status|close|delete|recipients``: the tip line's recipients'
tasks. Tips are sealed to the recipients' public keys; only a private key (kept by its owner
in a passphrase-protected file) opens them, so reading and answering need ``--key``."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from undersigned.lib import sealing
from undersigned.tips import services
from undersigned.tips.uploads import clean_name


def _printable(text: str) -> str:
    """No control character reaches the terminal (an escape sequence in a tip could rewrite
    what the reader sees)."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)


class Command(BaseCommand):
    help = (
        "Read and answer the tip line's conversations with your private key (from `undersigned "
        "keys generate`), set their status, delete them, and choose who receives the tips sent "
        "to the whole site."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")

        def key_options(command):
            command.add_argument(
                "--key", required=True, metavar="FILE", help="Your private key file."
            )
            command.add_argument(
                "--passphrase-file", metavar="F", help="Read the passphrase from F's first line."
            )

        read = sub.add_parser(
            "read",
            help="Print every conversation sealed to your key (new ones are marked read).",
        )
        key_options(read)
        read.add_argument("--id", metavar="ID", help="Only this conversation.")
        read.add_argument(
            "--save-files",
            metavar="FOLDER",
            help="Write the decrypted files into FOLDER (an existing folder of your own).",
        )

        reply = sub.add_parser("reply", help="Answer a conversation (marks it answered).")
        reply.add_argument("id", metavar="ID")
        key_options(reply)
        text = reply.add_mutually_exclusive_group(required=True)
        text.add_argument(
            "--message-file", metavar="F", help="The reply's text (UTF-8); - is stdin."
        )
        text.add_argument(
            "--canned", choices=sorted(services.CANNED), help="A ready-made short answer."
        )

        status = sub.add_parser("status", help="Set a conversation's status.")
        status.add_argument("id", metavar="ID")
        status.add_argument("status", choices=services.Status.values)

        close = sub.add_parser("close", help="Close a conversation (the source can still read it).")
        close.add_argument("id", metavar="ID")

        delete = sub.add_parser("delete", help="Delete a conversation and its files at once.")
        delete.add_argument("id", metavar="ID")

        recipients = sub.add_parser(
            "recipients",
            help="List (or change) who receives the tips sent to the whole site (/tips/).",
        )
        change = recipients.add_mutually_exclusive_group()
        change.add_argument("--add", metavar="USERNAME")
        change.add_argument("--remove", metavar="USERNAME")

    def handle(self, *args, action, **options):
        try:
            return getattr(self, f"_{action}")(**options)
        except services.TipError as exc:
            raise CommandError(str(exc)) from None

    # --- reading and answering ---------------------------------------------------------------

    def _read(self, key, passphrase_file, id, save_files, **_):  # noqa: A002  (option name)
        folder = self._folder(save_files) if save_files else None
        private = self._open_key(key, passphrase_file)
        found = services.read(private, id)
        if not found:
            kid = sealing.private_key_id(private)
            self.stdout.write(
                f"Conversation {id} is not sealed to key {kid}."
                if id
                else f"No conversation is sealed to key {kid}."
            )
            return
        for opened in found:
            self._print(opened, folder)

    def _print(self, opened, folder: Path | None) -> None:
        conversation = opened.conversation
        scope = f"letter {conversation.letter.slug}" if conversation.letter else "the whole site"
        self.stdout.write(
            f"== Conversation {conversation.pk} ({scope}): {opened.status}, "
            f"last activity {conversation.last_activity:%Y-%m-%d}"
        )
        for message in opened.messages:
            who = "source" if message.from_source else "reply"
            self.stdout.write(f"-- {message.position}. {who}, {message.on:%Y-%m-%d}")
            if message.text is None:
                self.stdout.write("   (not sealed to this key: it was added after this message)")
                continue
            for line in _printable(message.text).splitlines() or [""]:
                self.stdout.write(f"   {line}")
            for file in message.files:
                name = _printable(file.name)
                note = ""
                if folder is not None:
                    note = f" -> {self._save(folder, conversation.pk, message.position, file)}"
                self.stdout.write(
                    f"   [file] {name} ({file.size:,} bytes, {file.content_type}){note}"
                )
        self.stdout.write("")

    def _save(self, folder: Path, conversation_id: str, position: int, file) -> Path:
        name = clean_name(file.name).lstrip(".") or "file"
        path = folder / f"{conversation_id}-{position}-{file.position}-{name}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path  # saved by an earlier run
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        with os.fdopen(fd, "wb") as out:
            out.write(file.read())
        return path

    def _folder(self, name: str) -> Path:
        folder = Path(name)
        if not folder.is_dir():
            raise CommandError(f"--save-files {name!r} is not an existing folder.")
        return folder

    def _reply(self, id, key, passphrase_file, message_file, canned, **_):  # noqa: A002
        conversation = services.get(id)
        text = services.CANNED[canned] if canned else self._read_text(message_file)
        private = self._open_key(key, passphrase_file)
        services.reply(conversation, private, text, via="command")
        self.stdout.write(
            f"Reply sealed to the source of conversation {conversation.pk} and to its "
            "recipients; it is marked answered."
        )

    def _read_text(self, name: str) -> str:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read --message-file {name!r}: {exc.strerror}.") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"--message-file {name!r} is not UTF-8 text (bad byte at position {exc.start})."
            ) from None

    def _open_key(self, key: str, passphrase_file: str | None) -> bytes:
        try:
            data = Path(key).read_bytes()
            if passphrase_file:
                passphrase = Path(passphrase_file).read_text().splitlines()[0]
            else:
                passphrase = getpass.getpass(f"Passphrase for {key}: ")
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read the key or passphrase file: {exc}") from None
        try:
            return sealing.open_private_key(data, passphrase)
        except sealing.SealingError as exc:
            raise CommandError(str(exc)) from None

    # --- status and deletion -----------------------------------------------------------------

    def _status(self, id, status, **_):  # noqa: A002
        services.set_status(services.get(id), status, via="command")
        self.stdout.write(f"Conversation {id} is marked {status}.")

    def _close(self, id, **_):  # noqa: A002
        services.close(services.get(id), via="command")
        self.stdout.write(f"Conversation {id} is closed; its source can still read it.")

    def _delete(self, id, **_):  # noqa: A002
        services.delete(services.get(id), via="command")
        self.stdout.write(f"Conversation {id} and its files are deleted.")

    # --- the instance's recipients -----------------------------------------------------------

    def _recipients(self, add, remove, **_):
        if add or remove:
            user = get_user_model().objects.filter(username=add or remove).first()
            if user is None:
                raise CommandError(f"There is no user {add or remove!r}.")
            if add:
                services.add_recipient(user, via="command")
                self.stdout.write(f"{add} now receives the tips sent to the whole site.")
            else:
                services.remove_recipient(user, via="command")
                self.stdout.write(f"{remove} no longer receives the tips sent to the whole site.")
            return
        users = get_user_model().objects.filter(tip_recipient__isnull=False).order_by("username")
        if not users:
            self.stdout.write(
                "Nobody receives the tips sent to the whole site: /tips/ accepts nothing. "
                "Add someone with --add USERNAME (they need a key: `undersigned keys`)."
            )
        for user in users:
            keys = user.sealing_keys.count()
            self.stdout.write(f"{user.get_username()}\t{keys} key{'s' if keys != 1 else ''}")
