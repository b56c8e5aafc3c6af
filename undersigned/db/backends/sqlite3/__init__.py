"""Django's SQLite backend, with write transactions queued inside each process (see base)."""
