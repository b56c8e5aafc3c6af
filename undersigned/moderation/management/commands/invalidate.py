"""``undersigned invalidate``: remove abuse from a letter's count (dry run first), or undo."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from undersigned.letters.models import Letter
from undersigned.moderation import services
from undersigned.moderation.models import Invalidation


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{value!r} is not a date and time such as 2026-06-22T14:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise CommandError(f"{value!r} has no time zone; add +00:00 for UTC.")
    return moment


class Command(BaseCommand):
    help = (
        "Invalidate a letter's counted signatures by email domain and/or client-address hash "
        "(hashes exist only for UNDERSIGNED_IP_HASH_DAYS days), with a public reason. Without "
        "--confirm it is a dry run that prints how many match. --undo ID counts them again."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--domain", default="")
        parser.add_argument("--ip-hash", default="")
        parser.add_argument("--since", type=_when, help="ISO date-time with zone (inclusive).")
        parser.add_argument("--until", type=_when, help="ISO date-time with zone (exclusive).")
        parser.add_argument("--reason", default="", help="Shown publicly on the letter's page.")
        parser.add_argument("--confirm", action="store_true", help="Do it (not a dry run).")
        parser.add_argument("--undo", type=int, metavar="ID", help="Undo invalidation ID.")

    def handle(self, *args, slug, domain, ip_hash, since, until, reason, confirm, undo, **_):
        if undo is not None:
            invalidation = Invalidation.objects.filter(pk=undo).first()
            if invalidation is None:
                raise CommandError(f"There is no invalidation {undo}.")
            count = services.undo(invalidation, via="command")
            self.stdout.write(f"Undone: {count} signatures are counted again.")
            return
        letter = Letter.objects.filter(slug=slug or "").first()
        if letter is None:
            raise CommandError(
                f"There is no letter {slug!r}; `undersigned letter list` shows them."
            )
        try:
            criteria = services.Criteria(domain=domain, ip_hash=ip_hash, since=since, until=until)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not confirm:
            count = services.dry_run(letter, criteria)
            self.stdout.write(
                f"Dry run: {count} counted signatures match. Add --confirm to invalidate."
            )
            return
        if not reason.strip():
            raise CommandError("Give a --reason: it is shown publicly with the count removed.")
        invalidation = services.invalidate(letter, criteria, reason.strip(), via="command")
        self.stdout.write(
            f"Invalidation {invalidation.pk}: {invalidation.count} signatures removed from the "
            f"count. Undo with: undersigned invalidate --undo {invalidation.pk}"
        )
