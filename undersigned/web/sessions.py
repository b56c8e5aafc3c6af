"""Django's database sessions, refusing malformed session keys from cookies.

Django only checks that a key from a cookie is 8 characters or more; a key with a NUL byte
then makes PostgreSQL reject the lookup and every page answer 500. Keys Django makes are
lower-case letters and digits, so anything else is treated as no session."""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        valid = super()._validate_session_key(key)  # type: ignore[misc]  # (not in the stubs)
        return bool(key) and key.isascii() and key.isalnum() and valid
