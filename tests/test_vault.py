"""Encryption at rest (``lib/vault.py``): what is locked opens only with its secret or key,
its length shows only its bucket, and damage is an error, never a wrong text."""

from __future__ import annotations

import base64

import pytest

from undersigned.lib import vault

SECRET = "s-" + "1" * 40


def test_a_locked_text_opens_with_its_secret_and_says_nothing_of_itself():
    locked = vault.lock("Ada Byron, Analytical Society", SECRET)
    assert locked.startswith(vault.PREFIX) and "Ada" not in locked
    assert vault.unlock(locked, SECRET) == "Ada Byron, Analytical Society"
    assert vault.opener(SECRET)(locked) == "Ada Byron, Analytical Society"
    assert vault.lock("Ada", SECRET) != vault.lock("Ada", SECRET)  # a fresh nonce each time


def test_lengths_show_only_their_bucket():
    sizes = {len(vault.lock("x" * n, SECRET)) for n in (1, 20, 62)}
    assert len(sizes) == 1
    assert len(vault.lock("x" * 63, SECRET)) > sizes.pop()


def test_empty_and_plain_values_pass_through():
    assert vault.lock("", SECRET) == ""
    assert vault.unlock("", SECRET) == "" and vault.unlock(None, SECRET) == ""
    assert vault.unlock("written before encryption", SECRET) == "written before encryption"


@pytest.mark.parametrize(
    "damage",
    [
        lambda locked: locked[:-4] + "AAAA",  # the last bytes of the tag
        lambda locked: locked + "!",  # not base64
        lambda locked: vault.PREFIX + base64.b64encode(b"short").decode(),
    ],
)
def test_a_damaged_value_is_an_error_not_a_text(damage):
    with pytest.raises(vault.VaultError):
        vault.unlock(damage(vault.lock("Ada Byron", SECRET)), SECRET)


def test_another_secret_or_key_opens_nothing():
    locked = vault.lock("Ada Byron", SECRET)
    with pytest.raises(vault.VaultError):
        vault.unlock(locked, "s-" + "2" * 40)
    key = bytes(range(32))
    keyed = vault.lock("Ada Byron", key=key)
    assert vault.unlock(keyed, key=key) == "Ada Byron"
    with pytest.raises(vault.VaultError):
        vault.unlock(keyed, SECRET)
    with pytest.raises(vault.VaultError):
        vault.opener(key=bytes(32))(keyed)
