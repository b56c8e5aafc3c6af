"""Test settings: the real settings module, with fast password hashing, mail kept in memory
unless a test starts a real SMTP server, and a file-backed SQLite test database (so that the
live server, the worker thread and the test share it, with WAL and a busy timeout)."""

import os
import tempfile

os.environ.setdefault("UNDERSIGNED_SECRET_KEY", "test-secret-key-0123456789-abcdefghijklmnop")
os.environ.setdefault("UNDERSIGNED_DATA_DIR", tempfile.mkdtemp(prefix="undersigned-test-"))
os.environ.pop("EMAIL_URL", None)
# Sync Playwright runs an event loop in the test thread; the ORM calls around it are safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from undersigned.settings import *  # noqa: E402, F403
from undersigned.settings import DATA_DIR, DATABASES, STORAGES  # noqa: E402

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}

# Serve static files straight from the source folders; no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
