"""Uploads to the tip line are encrypted as they arrive: Django's own handlers would keep a
file in memory or, past 2.5 MB, write it to a temporary file on disk in plaintext. The
tip views replace them with ``SealingUploadHandler``, which passes each chunk straight into
a ``tipbox.FileSealer`` under the message's data key and keeps only ciphertext, within the
count and size limits; past them it keeps nothing of the file and says why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from undersigned.lib import tipbox

FIELD = "files"
MAX_NAME = 200


@dataclass
class SealedUpload:
    """A file as the request leaves it: its name, size and type (in memory, to be sealed in
    the message's text) and its ciphertext."""

    name: str
    size: int
    content_type: str
    position: int
    ciphertext: bytes = field(repr=False)


@dataclass
class Envelope:
    """The data key of the message being sent, its sealed files, and why any were refused."""

    data_key: bytes = field(default_factory=tipbox.new_data_key, repr=False)
    files: list[SealedUpload] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def clean_name(name: str) -> str:
    """A file's name as shown to its recipients: no folders, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_NAME] or "file"


class SealingUploadHandler(FileUploadHandler):
    chunk_size = 64 * 1024

    def __init__(self, request=None, envelope: Envelope | None = None):
        super().__init__(request)
        self.envelope = envelope or Envelope()
        self.used = 0  # bytes of all files so far
        self.count = 0  # files offered so far
        self.sealer: tipbox.FileSealer | None = None

    def new_file(self, field_name, file_name, content_type, content_length, *args, **kwargs):
        super().new_file(field_name, file_name, content_type, content_length, *args, **kwargs)
        self.sealer = None
        if field_name != FIELD:
            raise SkipFile()
        self.count += 1
        if self.count > settings.TIP_MAX_FILES:
            self._refuse(
                f"At most {settings.TIP_MAX_FILES} files can go with one message; "
                f"{self.count} were sent. Nothing was kept: send the others in a second message."
                if settings.TIP_MAX_FILES
                else "This tip line takes no files, only text. Nothing was kept."
            )
        self.sealer = tipbox.FileSealer(self.envelope.data_key, len(self.envelope.files))

    def receive_data_chunk(self, raw_data, start):
        if self.sealer is None:
            raise SkipFile()
        self.used += len(raw_data)
        if self.used > settings.TIP_MAX_UPLOAD_BYTES:
            self.sealer = None
            self._refuse(
                f"The files are larger than {_size(settings.TIP_MAX_UPLOAD_BYTES)} in all; "
                "nothing was kept. Send fewer or smaller files, or several messages."
            )
        self.sealer.update(raw_data)
        return None  # no other handler sees the plaintext

    def file_complete(self, file_size):
        if self.sealer is None:
            return None
        upload = SealedUpload(
            name=clean_name(self.file_name or ""),
            size=file_size,
            content_type=(self.content_type or "application/octet-stream")[:100],
            position=len(self.envelope.files),
            ciphertext=self.sealer.finish(),
        )
        self.sealer = None
        self.envelope.files.append(upload)
        return None  # kept in the envelope, not in request.FILES

    def _refuse(self, reason: str) -> NoReturn:
        if reason not in self.envelope.refused:
            self.envelope.refused.append(reason)
        raise SkipFile()


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:g} MB"
    if n >= 1024:
        return f"{n / 1024:g} KB"
    return f"{n} bytes"


size_text = _size
