"""``undersigned serve``: the production HTTP server (Granian, WSGI), static files by WhiteNoise."""

from __future__ import annotations

import errno
import socket

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from undersigned.db.maintenance import checkpoint


def _check_free(host: str, port: int) -> None:
    """Refuse a port that something already listens on. Granian would share it (its
    sockets allow that), and the two servers would take turns answering: of 40 requests, 18
    reached a second instance and 22 the first, so the log-in `make run` printed failed half
    the time."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CommandError(f"--host {host!r} cannot be served: {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not over a listener
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is in use already, perhaps by another Undersigned "
                    "(`make run` in another terminal?). Stop it, or serve on another port: "
                    "--port N (make run PORT=N)."
                ) from None
            raise CommandError(f"Cannot serve on {host}:{port}: {exc.strerror}.") from None


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
        _check_free(host, port)
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
        checkpoint()  # stopped: leave no old page in SQLite's write-ahead log
