from django.core.management.base import BaseCommand

from undersigned.signatures.counting import reconcile


class Command(BaseCommand):
    help = "Recompute every letter's signature count exactly from the confirmed signatures."

    def handle(self, *args, **options):
        changes = reconcile()
        for slug, (old, old_verified, old_held), (new, new_verified, new_held) in changes:
            self.stdout.write(
                f"{slug}: {old} -> {new} signatures, {old_verified} -> {new_verified} verified, "
                f"{old_held} -> {new_held} held"
            )
        self.stdout.write(
            f"Reconciled: {len(changes)} count{'s' if len(changes) != 1 else ''} corrected."
        )
