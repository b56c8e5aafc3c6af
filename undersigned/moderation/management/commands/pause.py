"""``undersigned pause``: the kill switches, from the command line."""

from django.core.management.base import BaseCommand, CommandError

from undersigned.letters import services
from undersigned.letters.models import Letter
from undersigned.moderation import services as moderation


class Command(BaseCommand):
    help = "Pause (or --resume) signing on one letter, or on every letter without a SLUG."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--message", default="", help="Shown instead of the form.")
        parser.add_argument("--resume", action="store_true")

    def handle(self, *args, slug, message, resume, **_):
        if not slug:
            if resume:
                moderation.resume_everywhere(via="command")
            else:
                moderation.pause_everywhere(message, via="command")
            self.stdout.write(f"Signing {'resumed' if resume else 'paused'} on every letter.")
            return
        letter = Letter.objects.filter(slug=slug).first()
        if letter is None:
            raise CommandError(f"There is no letter {slug!r}.")
        try:
            if resume:
                services.resume(letter, via="command")
            else:
                services.pause(letter, message, via="command")
        except services.LetterError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Signing {'resumed' if resume else 'paused'} on letter {slug!r}.")
