import signal

from django.core.management.base import BaseCommand

from undersigned.outbox.worker import Worker


class Command(BaseCommand):
    help = "Send queued mail and update counts every second; SIGTERM or Ctrl-C drains and exits."

    def handle(self, *args, **options):
        worker = Worker()
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        self.stdout.write("Worker running (outbox and counter). Stop with Ctrl-C or SIGTERM.")
        worker.run()
