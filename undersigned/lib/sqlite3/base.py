"""Django's SQLite backend, with one change: the threads of a process take turns at write
transactions on a lock of their own before they ask SQLite for its write lock.

SQLite lets one writer in at a time. A writer that finds the database locked polls: its busy
handler sleeps 1, 2, 5, 10, ... up to 100 ms between tries. Under a surge (four threads per
server process, each signing) most of a request's time went to those sleeps, not to work
(py-spy: a third of the samples in ``BEGIN IMMEDIATE``). A thread waiting on a Python lock
wakes the moment the holder commits, so threads of one process now hand the write lock on
without sleeping; only writers in different processes still meet SQLite's polling.

The wait is bounded by the connection's busy timeout: past it, the transaction goes on to
SQLite as before (which waits its own busy timeout, then raises "database is locked")."""

from __future__ import annotations

import threading

from django.db.backends.sqlite3 import base

_writers = threading.Lock()
BUSY_SECONDS = 5.0  # as PRAGMA busy_timeout in settings


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writers_lock = False

    def _start_transaction_under_autocommit(self):
        self._holds_writers_lock = _writers.acquire(timeout=BUSY_SECONDS)
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writers_lock()
            raise

    def _release_writers_lock(self):
        if self._holds_writers_lock:
            self._holds_writers_lock = False
            _writers.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writers_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writers_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writers_lock()
