"""Model fields that keep their values encrypted at rest (``lib.vault``)."""

from __future__ import annotations

from django.db import models

from undersigned.lib import vault


class VaultedTextField(models.TextField):
    """Text that the database holds only encrypted, under a key derived from the instance
    secret: a value read back is the plain text, a value written is locked. Nothing can be
    looked up or sorted by it. ``max_length`` limits the plain text (in forms), not the
    column."""

    def from_db_value(self, value, expression, connection):
        return value if value is None else vault.unlock(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value is None else vault.lock(value)
