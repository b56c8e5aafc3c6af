"""The worker: one loop that runs a list of jobs, each as often as it asks, and the counter
in a thread of its own (so that a backlog of mail never delays the count).

Runs as ``undersigned worker``; tests call a job's function directly, or run ``Worker.run``
in a thread. A stop request (SIGTERM, Ctrl-C, or ``stop``) lets the current job finish, then
the loop returns. To add a job: one line in ``JOBS`` (CONTRIBUTING.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections

from undersigned.accounts import reset
from undersigned.db import maintenance
from undersigned.events.fanout import fan_out
from undersigned.outbox import sending
from undersigned.pledges import deciding, telling
from undersigned.signatures import affiliations, counting, retention, reveal, services
from undersigned.tips import services as tips

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: Callable[[], float]  # seconds between runs; 0: every round
    run: Callable[[], object]  # returns how much it did (an int), or anything else: nothing


def _every_round() -> float:
    return 0


# In the order of a round: signatures first, so that their mails go in the same round; then
# the events' mails; then the mail itself.
JOBS = [
    Job("intake", _every_round, services.record_intake),
    Job("pledges", lambda: 1, deciding.decide),  # under the counter's lock
    Job("pledge mail", _every_round, telling.tell),
    Job("fan-out", _every_round, fan_out),
    Job("password resets", _every_round, reset.send_requested),
    Job("tip notices", lambda: 60, tips.send_notices),  # due once their hour is over
    Job("mail", _every_round, sending.send_batch),
    Job(
        "stale mail claims",
        lambda: min(60, settings.MAIL_CLAIM_TIMEOUT_SECONDS / 2),
        sending.release_stale_claims,
    ),
    Job("threshold names", lambda: 10, reveal.reveal_waiting),  # the counter shows most
    Job("organizations", lambda: 1, affiliations.count_some),  # a chunk a second
    Job("purge", lambda: 3600, retention.purge),
    Job("checkpoint", lambda: 30, maintenance.checkpoint),  # SQLite: an empty WAL
]


class Worker:
    def __init__(self, count_every: float = 1.0, idle_sleep: float = 0.2, jobs=None):
        self.count_every = count_every
        self.idle_sleep = idle_sleep
        self.jobs = list(JOBS if jobs is None else jobs)
        self.stopping = threading.Event()
        self._last_run: dict[str, float] = {}

    def stop(self, *args) -> None:
        self.stopping.set()

    def tick(self) -> int:
        """One round of the jobs that are due; returns how much they did (0: nothing)."""
        done = 0
        for job in self.jobs:
            now = time.monotonic()
            every = job.every()
            if every and now - self._last_run.get(job.name, -every) < every:
                continue
            result = job.run()
            self._last_run[job.name] = now
            done += result if isinstance(result, int) else 0
        return done

    def count(self) -> None:
        """The counter's own loop."""
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
                done = self.tick()
            except Exception:  # a database outage must not end the worker
                log.exception("worker round failed; retrying in a few seconds")
                self.stopping.wait(3)
                continue
            if not done:
                self.stopping.wait(self.idle_sleep)
        counter.join(30)
        try:
            maintenance.checkpoint()
        except Exception:  # the database may be gone: stopping must not fail for it
            log.exception("the last checkpoint failed")
        connections.close_all()
        log.info("worker stopped")
