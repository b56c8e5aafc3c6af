"""Keep signer data out of logs.

Django attaches the request to some log records (e.g. ``django.request`` errors) and formats
it into the message; a request carries the client address, headers, and form fields. This
filter detaches it, so the log keeps the status and path but nothing that identifies a person.
"""

from __future__ import annotations

import logging


class DropRequestData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None:
            record.request = None
            record.path = getattr(request, "path", "")
        return True
