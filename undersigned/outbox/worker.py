"""The worker: record signatures from the intake and send the outbox; in a thread of its
own, fold confirmations into the counts every second; purge what is no longer needed every
hour.

Runs as ``undersigned worker``; tests run ``Worker.run`` in a thread. A stop request (SIGTERM,
Ctrl-C, or ``stop``) lets the current batch finish, then the loop returns."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connections

from undersigned.outbox import sending
from undersigned.signatures import counting, retention, services

PURGE_EVERY = 3600  # seconds

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, count_every: float = 1.0, idle_sleep: float = 0.2, mail_batch: int = 100):
        self.count_every = count_every
        self.idle_sleep = idle_sleep
        self.mail_batch = mail_batch
        self.stopping = threading.Event()
        self._last_stale_check = 0.0
        self._last_purge = 0.0

    def stop(self, *args) -> None:
        self.stopping.set()

    def tick(self) -> int:
        """One round of signatures, mail and housekeeping; returns how many signatures were
        recorded plus how many mails went out (0: nothing to do)."""
        now = time.monotonic()
        if now - self._last_stale_check >= min(60, settings.MAIL_CLAIM_TIMEOUT_SECONDS / 2):
            sending.release_stale_claims()
            self._last_stale_check = now
        if now - self._last_purge >= PURGE_EVERY:
            retention.purge()
            self._last_purge = now
        recorded = services.record_intake()  # before mail, so its mails go this round
        return recorded + sending.send_batch(self.mail_batch)

    def count(self) -> None:
        """The counter's own loop, so that a backlog of mail never delays the count."""
        while not self.stopping.is_set():
            close_old_connections()
            started = time.monotonic()
            try:
                while counting.apply_deltas():  # catch up, a batch at a time
                    pass
            except Exception:  # a database outage must not end the counter
                log.exception("counting failed; retrying in a few seconds")
                self.stopping.wait(3)
                continue
            self.stopping.wait(max(0.0, self.count_every - (time.monotonic() - started)))
        connections.close_all()

    def run(self) -> None:
        log.info("worker started")
        counter = threading.Thread(target=self.count, name="counter", daemon=True)
        counter.start()
        while not self.stopping.is_set():
            close_old_connections()
            try:
                sent = self.tick()
            except Exception:  # a database outage must not end the worker
                log.exception("worker round failed; retrying in a few seconds")
                self.stopping.wait(3)
                continue
            if not sent:
                self.stopping.wait(self.idle_sleep)
        counter.join(30)
        connections.close_all()
        log.info("worker stopped")
