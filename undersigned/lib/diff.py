"""A word-level difference between two texts, for people to read (difflib, the standard
library's, on words and the spaces between them)."""

from __future__ import annotations

import difflib
import re

_TOKENS = re.compile(r"\s+|[^\s]+")


def words(text: str) -> list[str]:
    return _TOKENS.findall(text)


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Segments of ``("same" | "removed" | "added", text)`` that turn ``old`` into ``new``."""
    a, b = words(old), words(new)
    segments: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("same", "".join(a[i1:i2])))
            continue
        if op in ("replace", "delete"):
            segments.append(("removed", "".join(a[i1:i2])))
        if op in ("replace", "insert"):
            segments.append(("added", "".join(b[j1:j2])))
    return segments
