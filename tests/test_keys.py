"""Sealing hidden signers' fields to organizers' keys: the sealing helpers, the key files, the
OrganizerKey model and ``undersigned keys generate|add|list``."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import make_letter
from undersigned.accounts.models import OrganizerKey
from undersigned.lib import sealing
from undersigned.lib.sealing import SealingError

FIELDS = {"name": "Zoë Åkesson", "affiliation": "Payments, ExampleCorp", "comment": "Cancel it."}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def olivia_keys():
    return sealing.generate_keypair()


@pytest.fixture(scope="module")
def carlos_keys():
    return sealing.generate_keypair()


@pytest.fixture(scope="module")
def key_file(olivia_keys):
    """One protected key file for the tests that only read it (Argon2id takes ~0.5 s)."""
    return sealing.protect_private_key(olivia_keys[0], PASSPHRASE)


@pytest.fixture
def passphrase_file(tmp_path):
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\nthe second line is ignored\n", encoding="utf-8")
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def flip(b64_text: str, index: int = -1) -> str:
    raw = bytearray(base64.b64decode(b64_text))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def printed(out: str, label: str) -> str:
    """The value on the line ``<label>: <value>`` of a command's output."""
    for line in out.splitlines():
        if line.startswith(label + ": "):
            return line.split(": ", 1)[1]
    raise AssertionError(f"no {label!r} line in: {out!r}")


# --- keys and key ids -----------------------------------------------------------------------


def test_a_key_pair_is_32_raw_bytes_and_a_base64_public_key(olivia_keys):
    private, public = olivia_keys
    assert isinstance(private, bytes) and len(private) == 32
    assert len(public) == 44
    assert len(base64.b64decode(public)) == 32
    assert sealing.generate_keypair()[0] != private


def test_a_key_id_is_the_start_of_the_sha256_of_the_raw_key(olivia_keys):
    public = olivia_keys[1]
    expected = hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]
    assert sealing.key_id(public) == expected
    assert sealing.key_id(" " + public + "\n") == expected


def test_it_normalizes_a_public_key(olivia_keys):
    public = olivia_keys[1]
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(public)).decode()
    assert sealing.validate_public_key(f"  {public[:20]}\n{public[20:]} ") == public
    assert sealing.validate_public_key(urlsafe) == public


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "decodes to 0 bytes"),
        ("not base64 at all!", "not valid base64"),
        ("ünïcode", "not valid base64"),
        (base64.b64encode(b"x" * 31).decode(), "decodes to 31 bytes"),
        (base64.b64encode(b"x" * 33).decode(), "decodes to 33 bytes"),
        (base64.b64encode(bytes(32)).decode(), "not a usable X25519 key"),
    ],
)
def test_it_refuses_a_bad_public_key(text, message):
    with pytest.raises(SealingError, match=message):
        sealing.validate_public_key(text)
    with pytest.raises(SealingError, match=message):
        sealing.seal(FIELDS, [text])


# --- seal and unseal ------------------------------------------------------------------------


def test_each_organizer_opens_what_was_sealed_to_both(olivia_keys, carlos_keys):
    sealed = sealing.seal(FIELDS, [olivia_keys[1], carlos_keys[1]])
    assert sealed["v"] == 1
    assert set(sealed["keys"]) == {
        sealing.key_id(olivia_keys[1]),
        sealing.key_id(carlos_keys[1]),
    }
    assert sealing.unseal(sealed, olivia_keys[0]) == FIELDS
    assert sealing.unseal(sealed, carlos_keys[0]) == FIELDS


def test_sealed_data_is_json_and_holds_no_plain_field(olivia_keys, carlos_keys):
    sealed = sealing.seal(FIELDS, [olivia_keys[1], carlos_keys[1]])
    text = json.dumps(sealed)
    assert json.loads(text) == sealed
    for value in FIELDS.values():
        assert value not in text
        assert value.encode() not in base64.b64decode(sealed["box"])


def test_sealing_twice_gives_different_ciphertexts(olivia_keys):
    first = sealing.seal(FIELDS, [olivia_keys[1]])
    second = sealing.seal(FIELDS, [olivia_keys[1]])
    assert first["box"] != second["box"]
    assert sealing.unseal(first, olivia_keys[0]) == sealing.unseal(second, olivia_keys[0])


def test_a_key_listed_twice_is_sealed_to_once(olivia_keys):
    sealed = sealing.seal(FIELDS, [olivia_keys[1], " " + olivia_keys[1]])
    assert list(sealed["keys"]) == [sealing.key_id(olivia_keys[1])]


def test_a_third_key_cannot_open_it(olivia_keys, carlos_keys):
    sealed = sealing.seal(FIELDS, [olivia_keys[1], carlos_keys[1]])
    mallory_private, mallory_public = sealing.generate_keypair()
    with pytest.raises(SealingError, match=f"{sealing.key_id(mallory_public)}.*not among"):
        sealing.unseal(sealed, mallory_private)


def test_a_key_cannot_open_it_by_claiming_a_recipients_id(olivia_keys, carlos_keys):
    sealed = sealing.seal(FIELDS, [olivia_keys[1]])
    mallory_private, mallory_public = sealing.generate_keypair()
    forged = copy.deepcopy(sealed)
    forged["keys"][sealing.key_id(mallory_public)] = sealed["keys"][sealing.key_id(olivia_keys[1])]
    with pytest.raises(SealingError, match="damaged or was not sealed for this key"):
        sealing.unseal(forged, mallory_private)


@pytest.mark.parametrize("part", ["box", "key"])
def test_tampered_sealed_data_fails(olivia_keys, part):
    sealed = sealing.seal(FIELDS, [olivia_keys[1]])
    kid = sealing.key_id(olivia_keys[1])
    if part == "box":
        sealed["box"] = flip(sealed["box"])
    else:
        sealed["keys"][kid] = flip(sealed["keys"][kid], index=40)
    with pytest.raises(SealingError, match="damaged or was not sealed for this key"):
        sealing.unseal(sealed, olivia_keys[0])


@pytest.mark.parametrize(
    "sealed",
    [None, {}, {"v": 2, "box": "", "keys": {}}, {"v": 1, "box": "x"}, {"v": 1, "keys": []}],
)
def test_malformed_sealed_data_fails(olivia_keys, sealed):
    with pytest.raises(SealingError, match="damaged"):
        sealing.unseal(sealed, olivia_keys[0])


def test_it_refuses_to_seal_to_nobody():
    with pytest.raises(SealingError, match="no public key to seal to"):
        sealing.seal(FIELDS, [])


@pytest.mark.parametrize("fields", [{"name": None}, {"name": 3}, ["name"]])
def test_it_refuses_to_seal_fields_that_are_not_text(olivia_keys, fields):
    with pytest.raises(SealingError, match="Only text fields"):
        sealing.seal(fields, [olivia_keys[1]])


def test_unseal_refuses_a_private_key_of_the_wrong_size(olivia_keys):
    sealed = sealing.seal(FIELDS, [olivia_keys[1]])
    with pytest.raises(SealingError, match="exactly 32 raw bytes"):
        sealing.unseal(sealed, olivia_keys[0][:31])


# --- protected private key files -------------------------------------------------------------


def test_a_key_file_opens_with_its_passphrase(olivia_keys, key_file):
    assert sealing.open_private_key(key_file, PASSPHRASE) == olivia_keys[0]


def test_a_key_file_names_its_public_key_and_records_argon2id_limits(olivia_keys, key_file):
    document = json.loads(key_file.decode("utf-8"))
    assert document["public_key"] == olivia_keys[1]
    assert document["key_id"] == sealing.key_id(olivia_keys[1])
    assert document["kdf"]["alg"] == "argon2id13"
    assert document["kdf"]["opslimit"] >= 2  # at least libsodium's INTERACTIVE
    assert document["kdf"]["memlimit"] >= 64 * 2**20
    assert len(base64.b64decode(document["kdf"]["salt"])) == 16


def test_a_key_file_holds_no_raw_private_key(olivia_keys, key_file):
    private = olivia_keys[0]
    assert private not in key_file
    for encoded in (
        base64.b64encode(private),
        base64.b64encode(private).rstrip(b"="),
        base64.urlsafe_b64encode(private).rstrip(b"="),
        private.hex().encode(),
        private.hex().upper().encode(),
    ):
        assert encoded not in key_file


def test_a_wrong_passphrase_does_not_open_a_key_file(key_file):
    with pytest.raises(SealingError, match="^Cannot open the private key: wrong passphrase or"):
        sealing.open_private_key(key_file, PASSPHRASE + "!")


def test_an_empty_passphrase_is_refused(olivia_keys, key_file):
    with pytest.raises(SealingError, match="passphrase is empty"):
        sealing.protect_private_key(olivia_keys[0], "")
    with pytest.raises(SealingError, match="passphrase is empty"):
        sealing.open_private_key(key_file, "")


def test_the_passphrase_is_compared_in_unicode_nfc(olivia_keys):
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    data = sealing.protect_private_key(olivia_keys[0], composed)
    assert sealing.open_private_key(data, decomposed) == olivia_keys[0]


def _edit(key_file: bytes, change) -> bytes:
    document = json.loads(key_file)
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        (lambda f: b"\xff\xfe" + f, "not an Undersigned key file"),
        (lambda f: b"-----BEGIN OPENSSH PRIVATE KEY-----\n", "not an Undersigned key file"),
        (lambda f: b"[1, 2]", "not an Undersigned key file"),
        (lambda f: _edit(f, lambda d: d.update(v=7)), "unknown key file version 7"),
        (lambda f: _edit(f, lambda d: d["kdf"].update(alg="scrypt")), "unknown key derivation"),
        (lambda f: _edit(f, lambda d: d["kdf"].update(memlimit=2**40)), "limits out of range"),
        (lambda f: _edit(f, lambda d: d["kdf"].update(opslimit=1)), "limits out of range"),
        (lambda f: _edit(f, lambda d: d["kdf"].update(salt="AAAA")), "salt of the wrong length"),
        (lambda f: _edit(f, lambda d: d.pop("encrypted_private_key")), "not base64 text"),
        (lambda f: _edit(f, lambda d: d.update(public_key="YWJj")), "public key is not a valid"),
    ],
)
def test_a_damaged_or_foreign_key_file_is_refused(key_file, damage, detail):
    with pytest.raises(SealingError) as excinfo:
        sealing.open_private_key(damage(key_file), PASSPHRASE)
    assert "wrong passphrase or damaged key file" in str(excinfo.value)
    assert detail in str(excinfo.value)


def test_a_key_file_with_a_flipped_ciphertext_byte_is_refused(key_file):
    data = _edit(
        key_file, lambda d: d.update(encrypted_private_key=flip(d["encrypted_private_key"]))
    )
    with pytest.raises(SealingError, match="wrong passphrase or damaged key file"):
        sealing.open_private_key(data, PASSPHRASE)


def test_a_key_file_whose_public_key_was_swapped_is_refused(key_file, carlos_keys):
    data = _edit(key_file, lambda d: d.update(public_key=carlos_keys[1]))
    with pytest.raises(SealingError, match="does not match the public key"):
        sealing.open_private_key(data, PASSPHRASE)


# --- the OrganizerKey model -------------------------------------------------------------------


def test_keys_for_a_letter_are_its_organizers_keys(
    db, organizer, co_organizer, outsider, olivia_keys, carlos_keys
):
    letter = make_letter([organizer, co_organizer])
    other_letter = make_letter([outsider], slug="other")
    olivia = OrganizerKey.objects.register(organizer, olivia_keys[1], "laptop")
    carlos = OrganizerKey.objects.register(co_organizer, carlos_keys[1])
    mallory = OrganizerKey.objects.register(outsider, sealing.generate_keypair()[1])

    assert set(OrganizerKey.objects.for_letter(letter)) == {olivia, carlos}
    assert list(OrganizerKey.objects.for_letter(other_letter)) == [mallory]
    assert list(organizer.sealing_keys.all()) == [olivia]

    keys = OrganizerKey.objects.for_letter(letter).values_list("public_key", flat=True)
    sealed = sealing.seal(FIELDS, list(keys))
    assert sealing.unseal(sealed, carlos_keys[0]) == FIELDS


def test_register_normalizes_the_key_and_sets_its_id(db, organizer, olivia_keys):
    key = OrganizerKey.objects.register(organizer, f"  {olivia_keys[1]}\n", "laptop")
    key.refresh_from_db()
    assert key.public_key == olivia_keys[1]
    assert key.key_id == sealing.key_id(olivia_keys[1])
    assert str(key) == f"{key.key_id} (laptop) of olivia"


# --- undersigned keys generate ------------------------------------------------------------------


def test_generate_writes_a_protected_key_file_and_registers_it(
    db, organizer, tmp_path, passphrase_file
):
    out_path = tmp_path / "olivia.key"
    out = run(
        "keys",
        "generate",
        "--out",
        str(out_path),
        "--user",
        "olivia",
        "--label",
        "laptop",
        "--passphrase-file",
        str(passphrase_file),
    )
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    private = sealing.open_private_key(out_path.read_bytes(), PASSPHRASE)
    public = printed(out, "Public key")
    assert printed(out, "Key id") == sealing.key_id(public)
    assert "Registered for olivia." in out

    key = OrganizerKey.objects.get()
    assert (key.user, key.public_key, key.key_id, key.label) == (
        organizer,
        public,
        sealing.key_id(public),
        "laptop",
    )
    sealed = sealing.seal(FIELDS, [key.public_key])
    assert sealing.unseal(sealed, private) == FIELDS
    content = out_path.read_bytes()
    assert base64.b64encode(private) not in content
    assert private.hex().encode() not in content


def test_generate_without_a_user_registers_nothing(db, tmp_path, passphrase_file):
    out_path = tmp_path / "k.json"
    out = run("keys", "generate", "--out", str(out_path), "--passphrase-file", str(passphrase_file))
    public = printed(out, "Public key")
    assert f"undersigned keys add USERNAME {public}" in out
    assert OrganizerKey.objects.count() == 0
    assert json.loads(out_path.read_bytes())["public_key"] == public


def test_generate_asks_the_passphrase_twice(db, tmp_path, monkeypatch):
    answers = iter(["typed twice", "typed twice"])
    prompts = []

    def fake_getpass(prompt):
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    out_path = tmp_path / "k.json"
    run("keys", "generate", "--out", str(out_path))
    assert len(prompts) == 2
    assert len(sealing.open_private_key(out_path.read_bytes(), "typed twice")) == 32


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["one thing", "another"], "The two passphrases differ"),
        (["", ""], "The passphrase is empty"),
    ],
)
def test_generate_refuses_a_bad_typed_passphrase(db, tmp_path, monkeypatch, answers, message):
    typed = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    out_path = tmp_path / "k.json"
    with pytest.raises(CommandError, match=message):
        run("keys", "generate", "--out", str(out_path))
    assert not out_path.exists()


def test_generate_refuses_to_overwrite_a_file(db, tmp_path, passphrase_file):
    out_path = tmp_path / "precious.key"
    out_path.write_text("an older key\n")
    with pytest.raises(CommandError, match="precious.key exists already"):
        run("keys", "generate", "--out", str(out_path), "--passphrase-file", str(passphrase_file))
    assert out_path.read_text() == "an older key\n"


def test_generate_for_an_unknown_user_writes_nothing(db, tmp_path, passphrase_file):
    out_path = tmp_path / "k.json"
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        run(
            "keys",
            "generate",
            "--out",
            str(out_path),
            "--user",
            "nobody",
            "--passphrase-file",
            str(passphrase_file),
        )
    assert not out_path.exists()
    assert OrganizerKey.objects.count() == 0


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        (lambda d: None, ["--passphrase-file", "{d}/missing.txt"], "Cannot read --passphrase-file"),
        (
            lambda d: (d / "empty.txt").write_text("\nsecond line\n"),
            ["--passphrase-file", "{d}/empty.txt"],
            "first line of --passphrase-file .* is empty",
        ),
        (
            lambda d: (d / "latin1.txt").write_bytes("café\n".encode("latin-1")),
            ["--passphrase-file", "{d}/latin1.txt"],
            "is not UTF-8 text",
        ),
        (lambda d: None, ["--label", "laptop"], "--label is stored with the registered key"),
    ],
)
def test_generate_refuses_bad_input(db, tmp_path, setup, extra, message):
    setup(tmp_path)
    out_path = tmp_path / "k.json"
    args = [a.format(d=tmp_path) for a in extra]
    with pytest.raises(CommandError, match=message):
        run("keys", "generate", "--out", str(out_path), *args)
    assert not out_path.exists()


def test_generate_refuses_a_missing_folder(db, tmp_path, passphrase_file):
    out_path = tmp_path / "no-such-folder" / "k.json"
    with pytest.raises(CommandError, match="the folder .*no-such-folder does not exist"):
        run("keys", "generate", "--out", str(out_path), "--passphrase-file", str(passphrase_file))


def test_generate_works_without_a_configured_instance(tmp_path, passphrase_file):
    """An organizer runs it on their own computer: no secret key, no database."""
    out_path = tmp_path / "k.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNDERSIGNED_", "DATABASE"))}
    env["DJANGO_SETTINGS_MODULE"] = "undersigned.settings"
    env["UNDERSIGNED_DATA_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "-m", "undersigned", "keys", "generate", "--out", str(out_path)]
        + ["--passphrase-file", str(passphrase_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    public = printed(result.stdout, "Public key")
    assert json.loads(out_path.read_bytes())["public_key"] == public
    assert not list(tmp_path.glob("var/*.sqlite3*"))  # no database was opened


# --- undersigned keys add and list --------------------------------------------------------------


def test_add_registers_a_public_key_made_elsewhere(db, co_organizer, carlos_keys):
    out = run("keys", "add", "carlos", carlos_keys[1], "--label", "yubikey")
    key = OrganizerKey.objects.get()
    assert (key.user, key.public_key, key.label) == (co_organizer, carlos_keys[1], "yubikey")
    assert out == f"Key {sealing.key_id(carlos_keys[1])} registered for carlos.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "{key}"], "There is no user 'nobody'"),
        (["carlos", "c2hvcnQ="], "Invalid PUBLIC_KEY: The public key decodes to 5 bytes"),
        (["carlos", "!!!"], "Invalid PUBLIC_KEY: The public key is not valid base64"),
        (["carlos", "{key}", "--label", "x" * 101], "--label is longer than 100 characters"),
    ],
)
def test_add_refuses_bad_input(db, co_organizer, carlos_keys, args, message):
    with pytest.raises(CommandError, match=message):
        run("keys", "add", *[a.format(key=carlos_keys[1]) for a in args])
    assert OrganizerKey.objects.count() == 0


def test_add_refuses_a_key_that_is_registered_already(db, organizer, co_organizer, carlos_keys):
    run("keys", "add", "carlos", carlos_keys[1])
    kid = sealing.key_id(carlos_keys[1])
    with pytest.raises(CommandError, match=f"registered already \\(key {kid} of carlos\\)"):
        run("keys", "add", "olivia", " " + carlos_keys[1])
    assert list(OrganizerKey.objects.values_list("user__username", flat=True)) == ["carlos"]


def test_list_shows_users_ids_labels_and_dates_but_no_key_material(
    db, organizer, co_organizer, olivia_keys, carlos_keys
):
    assert run("keys", "list") == "No keys yet; make one with `undersigned keys generate`.\n"
    olivia = OrganizerKey.objects.register(organizer, olivia_keys[1], "laptop")
    carlos = OrganizerKey.objects.register(co_organizer, carlos_keys[1])
    out = run("keys", "list")
    assert out.splitlines() == [
        f"carlos\t{carlos.key_id}\t-\t{carlos.created_at:%Y-%m-%d}",
        f"olivia\t{olivia.key_id}\tlaptop\t{olivia.created_at:%Y-%m-%d}",
    ]
    assert olivia_keys[1] not in out
    assert base64.b64encode(olivia_keys[0]).decode() not in out


def test_sealed_fields_do_not_give_away_the_length_of_a_name():
    key = sealing.generate_keypair()[1]
    short = sealing.seal({"name": "Al", "affiliation": "", "comment": ""}, [key])
    long = sealing.seal(
        {"name": "Alexandra Konstantinopoulou-Smith", "affiliation": "", "comment": ""}, [key]
    )
    assert len(short["box"]) == len(long["box"])
