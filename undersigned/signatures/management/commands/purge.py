from django.core.management.base import BaseCommand

from undersigned.signatures.retention import purge


class Command(BaseCommand):
    help = (
        "Delete expired pending signatures and links, old mail records and address hashes, and "
        "destroy the hashing keys of letters closed longer than their purge delay."
    )

    def handle(self, *args, **options):
        for what, count in purge().items():
            self.stdout.write(f"{what}: {count}")
