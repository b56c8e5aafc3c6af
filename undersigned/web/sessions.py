"""Django's database sessions, with two changes.

- Malformed session keys from cookies are refused. Django only checks that a key is 8
  characters or more; a key with a NUL byte then made PostgreSQL reject the lookup and every
  page answer 500. Keys Django makes are lower-case letters and digits, so anything else is
  treated as no session.
- The expiry kept in the database is rounded up to the hour. Django keeps the moment the
  session was last saved plus its age, so a members-only session's ``expire_date`` minus 14
  days gave the second a member opened a letter."""

from datetime import timedelta

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


def _up_to_the_hour(moment):
    rounded = moment.replace(minute=0, second=0, microsecond=0)
    return rounded if rounded == moment else rounded + timedelta(hours=1)


class SessionStore(DatabaseSessionStore):
    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        instance.expire_date = _up_to_the_hour(instance.expire_date)
        return instance

    def _validate_session_key(self, key):
        valid = super()._validate_session_key(key)  # type: ignore[misc]  # (not in the stubs)
        return bool(key) and key.isascii() and key.isalnum() and valid
