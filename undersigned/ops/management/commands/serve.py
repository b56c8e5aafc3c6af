"""``undersigned serve``: the production HTTP server (Granian, WSGI), static files by WhiteNoise."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the site with Granian. Runs the system checks and collects static files first."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Worker processes (default 1).")
        parser.add_argument(
            "--threads",
            type=int,
            default=4,
            help="Threads per worker process (default 4: more only add lock contention, "
            "since Python runs one at a time per process).",
        )

    def handle(self, *args, host, port, workers, threads, **options):
        from granian.constants import Interfaces
        from granian.server import Server

        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1-65535).")
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1.")
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(
            f"Serving on http://{host}:{port}/ with {workers} worker(s) of {threads} thread(s)."
        )
        Server(
            "undersigned.wsgi:application",
            address=host,
            port=port,
            interface=Interfaces.WSGI,
            workers=workers,
            blocking_threads=threads,
            log_access=False,  # access logs would hold client addresses
            respawn_failed_workers=True,
        ).serve()
