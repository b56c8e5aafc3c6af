"""THREAT_MODEL.md says only what a test shows: every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_threat_model_names_exists():
    named = set(re.findall(r"`(test_[a-z0-9_]+)(?:\*)?`", (ROOT / "THREAT_MODEL.md").read_text()))
    assert len(named) > 20
    defined = "\n".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    prefixes = set(re.findall(r"`(test_[a-z0-9_]+)\*`", (ROOT / "THREAT_MODEL.md").read_text()))
    missing = [
        name
        for name in sorted(named)
        if f"def {name}(" not in defined and not (name in prefixes and f"def {name}" in defined)
    ]
    assert not missing, missing
