"""Django's SQLite backend, with one change: writers (transactions, and writes outside one)
queue for their turn before they ask SQLite for its write lock, threads on a lock of the
process and processes on an advisory lock (``flock``) on a file beside the database.

SQLite lets one writer in at a time. A writer that finds the database locked polls: its busy
handler sleeps 1, 2, 5, 10, ... up to 100 ms between tries. Under a surge (app processes of
several threads, each signing, and the worker) most of a request's time went to those
sleeps, not to work (py-spy: a third of the samples in ``BEGIN IMMEDIATE``, p99 0.6 s). A
thread waiting on a lock wakes the moment the holder commits; a process polls the file lock
every half millisecond.

The queue only orders writers that use this backend; SQLite still guards the data itself.
The wait is bounded by the busy timeout: past it, the transaction goes on to SQLite as
before (which waits its own busy timeout, then raises "database is locked"). A process that
dies holding the file lock loses it with its file descriptor."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from itertools import islice

from django.db.backends.sqlite3 import base

BUSY_SECONDS = 5.0  # as PRAGMA busy_timeout in settings
POLL_SECONDS = 0.0005


class _Queue:
    """Writers to one database file, in this process."""

    def __init__(self, path: str | None):
        self.threads = threading.Lock()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    def acquire(self) -> bool:
        deadline = time.monotonic() + BUSY_SECONDS
        if not self.threads.acquire(timeout=BUSY_SECONDS):
            return False
        while self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.threads.release()
                    return False
                time.sleep(POLL_SECONDS)
        return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.threads.release()


_queues: dict[tuple[int, str], _Queue] = {}
_queues_lock = threading.Lock()


def _queue_for(name: str) -> _Queue:
    # Per process id too: a forked child must open the file itself, since processes that
    # share one open file share its lock.
    key = (os.getpid(), name)
    with _queues_lock:
        if key not in _queues:
            in_memory = name == ":memory:" or "mode=memory" in name
            _queues[key] = _Queue(None if in_memory else f"{name}-writers")
        return _queues[key]


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _keep_private(name: str) -> None:
    """The database file and its journal files, readable by this user only (made before the
    umask in settings, or by another program, they may not be)."""
    if name == ":memory:" or "mode=memory" in name:
        return
    for path in (name, f"{name}-wal", f"{name}-shm", f"{name}-writers"):
        try:
            if os.stat(path).st_uid == os.getuid():
                os.chmod(path, 0o600)
        except OSError:
            pass


class _Cursor(base.SQLiteCursorWrapper):
    """Django's cursor; a write outside any transaction (SQLite then wraps the statement in
    one of its own) takes its turn in the queue too. Rows it returns (``RETURNING``) are read
    before the turn ends: SQLite commits such a write only once they all have been read."""

    wrapper: DatabaseWrapper
    _returned: Iterator[tuple] | None = None

    def execute(self, query, params=None):
        self._returned = None
        wrapper = self.wrapper
        if (
            wrapper.in_atomic_block
            or not wrapper.autocommit
            or not query.lstrip()[:7].upper().startswith(_WRITES)
        ):
            return super().execute(query, params)
        queue = _queue_for(str(wrapper.settings_dict["NAME"]))
        queued = queue.acquire()
        try:
            super().execute(query, params)
            if self.description is not None:
                self._returned = iter(super().fetchall())
            return self
        finally:
            if queued:
                queue.release()

    def fetchone(self):
        if self._returned is None:
            return super().fetchone()
        return next(self._returned, None)

    def fetchmany(self, size=None):
        if self._returned is None:
            return super().fetchmany(self.arraysize if size is None else size)
        return list(islice(self._returned, self.arraysize if size is None else size))

    def fetchall(self):
        if self._returned is None:
            return super().fetchall()
        return list(self._returned)

    def __next__(self):
        if self._returned is None:
            return super().__next__()
        return next(self._returned)


class DatabaseWrapper(base.DatabaseWrapper):
    _queue: _Queue | None = None

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        _keep_private(str(self.settings_dict["NAME"]))
        return connection

    def checkpoint(self, wait_ms: int = 100) -> tuple[int, int, int]:
        """Copy the write-ahead log into the database file and empty it (TRUNCATE), so that
        the log keeps no old page (SQLite's secure_delete zeroes what is deleted in the file,
        not in the log). It waits for readers only ``wait_ms``, so that it never holds up
        writers in a surge: then it answers busy and the next one tries again. Returns
        (busy, pages in the log, pages copied), as SQLite does."""
        with self.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return tuple(cursor.fetchone())
            finally:
                cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=_Cursor)
        cursor.wrapper = self
        return cursor

    def _start_transaction_under_autocommit(self):
        queue = _queue_for(str(self.settings_dict["NAME"]))
        self._queue = queue if queue.acquire() else None
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # (not in the stubs)
        except BaseException:
            self._leave_queue()
            raise

    def _leave_queue(self):
        if self._queue is not None:
            queue, self._queue = self._queue, None
            queue.release()

    def _commit(self):
        try:
            return super()._commit()  # type: ignore[misc]  # (not in the stubs)
        finally:
            self._leave_queue()

    def _rollback(self):
        try:
            return super()._rollback()  # type: ignore[misc]  # (not in the stubs)
        finally:
            self._leave_queue()

    def _close(self):
        try:
            return super()._close()  # type: ignore[misc]  # (not in the stubs)
        finally:
            self._leave_queue()
