"""Keep signer data and private links out of logs.

- Django attaches the request to some log records (e.g. ``django.request`` errors) and
  formats it into the message; a request carries the client address, headers and form
  fields. ``DropRequestData`` detaches it, so the log keeps the status and path but nothing
  that identifies a person.
- Paths carry private links: a confirmation (``/v/<token>``), a signer's private page
  (``/s/<receipt>``), a members-only pass (``/m/<token>``), a pledge commitment's
  confirmation and private page (``/pv/``, ``/ps/``). Whoever read "Method Not Allowed
  (PUT): /v/<token>" (any scanner sending PUT causes it) could confirm or withdraw someone's
  signature. ``RedactLinks`` replaces every such token, and any other long random token, in
  every line the server or the worker writes, tracebacks included.
"""

from __future__ import annotations

import logging
import re

# A path segment after a private prefix, and any run of 32 or more URL-safe characters with a
# digit in it (our tokens have 43; hashes have 64 hex digits; Python names have no digits).
PRIVATE = re.compile(r"(/(?:v|s|m|u|t|pv|ps|join)/)[^/\s?#\"']+|(?<![\w-])[\w-]{32,}(?![\w-])")
REDACTED = "[redacted]"


def _replace(match: re.Match) -> str:
    if match.group(1):
        return match.group(1) + REDACTED
    word = match.group(0)
    return REDACTED if any(char.isdigit() for char in word) else word


def redact(text: str) -> str:
    return PRIVATE.sub(_replace, text)


class DropRequestData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None:
            record.request = None
            record.path = redact(getattr(request, "path", ""))
        return True


class RedactLinks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
