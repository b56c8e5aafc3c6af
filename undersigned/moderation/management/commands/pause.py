"""``undersigned pause``: the kill switches, from the command line."""

from django.core.management.base import BaseCommand, CommandError

from undersigned.letters.models import Letter
from undersigned.moderation.models import Policy, audit


class Command(BaseCommand):
    help = "Pause (or --resume) signing on one letter, or on every letter without a SLUG."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--message", default="", help="Shown instead of the form.")
        parser.add_argument("--resume", action="store_true")

    def handle(self, *args, slug, message, resume, **_):
        if slug:
            letter = Letter.objects.filter(slug=slug).first()
            if letter is None:
                raise CommandError(f"There is no letter {slug!r}.")
            letter.signing_paused = not resume
            letter.pause_message = message or letter.pause_message
            letter.save(update_fields=["signing_paused", "pause_message"])
            target = f"letter {slug!r}"
        else:
            policy = Policy.current()
            policy.signing_paused = not resume
            policy.pause_message = message or policy.pause_message
            policy.save()
            letter, target = None, "every letter"
        audit(None, "resume" if resume else "pause", letter, via="command line")
        self.stdout.write(f"Signing {'resumed' if resume else 'paused'} on {target}.")
