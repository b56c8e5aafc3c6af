"""Django's PostgreSQL backend, with one change: the health check of a persistent connection
(``CONN_HEALTH_CHECKS``) looks at the connection's socket before it asks the server.

Django checks a reused connection once per request by sending ``SELECT 1``. For signing and
confirming, which need one statement each, that doubled the round trips to the server (py-spy
and bench/hotpath.py: a third of confirming's database waits). A server that ends a session
(a restart, ``pg_terminate_backend``, a crash) tells the client or closes the socket, and
either makes the idle socket readable; an idle, healthy session sends nothing unprompted. So
a quiet socket passes without a round trip, and anything else gets Django's ``SELECT 1``,
which closes the connection if it fails (the request then opens a new one, or answers 503
when the server is still down).

What neither check can see quickly is a peer that vanished without a word (a cut network):
``SELECT 1`` would wait for the TCP timeout as the request's own statement does."""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled  # type: ignore[attr-defined]  # (not in the stubs)
            and not self.health_check_done
            and self._quiet()
        ):
            self.health_check_done: bool = True
            return
        super().close_if_health_check_failed()

    def _quiet(self) -> bool:
        """Open, idle, and nothing waiting to be read from the server."""
        conn = self.connection
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            return False
        poll = select.poll()
        poll.register(conn.fileno(), select.POLLIN)
        return not poll.poll(0)
