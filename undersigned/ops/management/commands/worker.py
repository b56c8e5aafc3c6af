import signal

from django.core.management.base import BaseCommand

from undersigned.worker import JOBS, Worker


class Command(BaseCommand):
    help = (
        "Run the background jobs (signatures from the intake, mail, event fan-out, purges) "
        "and update the counts every second; SIGTERM or Ctrl-C drains and exits."
    )

    def handle(self, *args, **options):
        worker = Worker()
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        names = ", ".join(job.name for job in JOBS)
        self.stdout.write(f"Worker running ({names}; the counter). Stop with Ctrl-C or SIGTERM.")
        worker.run()
