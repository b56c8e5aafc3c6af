"""The tip line (issue 17): a source sends a message and files to a letter's organizers or to
the instance's recipients, gets a codename, and comes back with it to read replies and write
again; the server keeps only ciphertext, a peppered slow hash of the codename and days, and
tells recipients only that there is something new, at most once an hour."""

from __future__ import annotations

import io
import logging
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import drain, settle
from tests.test_browser import browser, new_context, site_url  # noqa: F401  (fixtures)
from tests.test_privacy import cache_contents, database_dump
from tests.test_remnants import files_of_the_database, read_database_files
from undersigned.accounts.models import OrganizerKey
from undersigned.events.models import Event
from undersigned.lib import codenames, sealing, tipbox
from undersigned.moderation import limits
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.models import Signature
from undersigned.tips import services
from undersigned.tips.models import Conversation, File, Message, Notice, Recipient
from undersigned.web.caching import recent

pytestmark = pytest.mark.django_db

PASSPHRASE = "correct horse battery staple"
CODENAME = re.compile(r'id="codename">([a-z -]+)<')


@pytest.fixture(scope="module")
def key_files(tmp_path_factory):
    """Two organizers' key files (the slow part, Argon2id, done once), with the passphrase."""
    folder = tmp_path_factory.mktemp("keys")
    (folder / "pass").write_text(PASSPHRASE + "\n")
    made = []
    for name in ("olivia", "carlos"):
        private, public = sealing.generate_keypair()
        path = folder / f"{name}.json"
        path.write_bytes(sealing.protect_private_key(private, PASSPHRASE))
        made.append((private, public, str(path)))
    return made, str(folder / "pass")


@pytest.fixture
def keys(key_files, organizer, co_organizer):
    """The organizer's and co-organizer's keys, registered: [(private, public, key file)]."""
    made, _ = key_files
    for user, (_, public, _) in zip((organizer, co_organizer), made, strict=True):
        OrganizerKey.objects.register(user, public)
    return made


@pytest.fixture
def passphrase_file(key_files):
    return key_files[1]


def send(client, url, message="A tip.", files=(), **extra):
    data = {"message": message}
    if files:
        data["files"] = [SimpleUploadedFile(name, content) for name, content in files]
    return client.post(url, data, **extra)


def codename_in(response) -> str:
    assert response.status_code == 200, response.content.decode()[-1500:]
    found = CODENAME.findall(response.content.decode())
    assert len(found) == 1
    return found[0]


def come_back(client, codename, **extra):
    return client.post("/tips/reply/", {"codename": codename}, **extra)


def tips(*args) -> str:
    out = io.StringIO()
    call_command("tips", *args, stdout=out)
    return out.getvalue()


def read_with(key_file, passphrase_file, *more) -> str:
    return tips("read", "--key", key_file, "--passphrase-file", passphrase_file, *more)


def reply_with(key_file, passphrase_file, conversation, text, tmp_path) -> str:
    message = tmp_path / "reply.txt"
    message.write_text(text)
    return tips(
        "reply",
        conversation.pk,
        "--key",
        key_file,
        "--passphrase-file",
        passphrase_file,
        "--message-file",
        str(message),
    )


# --- sealed to the recipients, and to nobody else --------------------------------------------


def test_a_tip_is_sealed_to_every_recipient_key_and_opens_with_no_other(client, letter, keys):
    response = send(client, "/l/clean-air/tip/", "The memo is dated 3 May.", [("m.txt", b"hi")])
    codename_in(response)
    message = Message.objects.get()
    for private, _, _ in keys:
        data_key, content = tipbox.open_envelope(message.sealed, private)
        assert content == {
            "text": "The memo is dated 3 May.",
            "files": [{"name": "m.txt", "size": 2, "type": "text/plain"}],
        }
        assert tipbox.open_file(data_key, 0, bytes(File.objects.get().data)) == b"hi"
    stranger = sealing.generate_keypair()[0]
    with pytest.raises(sealing.SealingError, match="not among the recipients"):
        tipbox.open_envelope(message.sealed, stranger)
    # Nor the codename's own key: what a source sends is for the recipients alone.
    derived = services.derive(codename_in(response))
    with pytest.raises(sealing.SealingError):
        tipbox.open_envelope(message.sealed, derived.reply_private)


def test_the_codename_is_seven_words_of_the_eff_long_list_shown_once(client, letter, keys):
    assert len(codenames.word_list()) == 7776  # 12.9 bits a word: 7 words are 90 bits
    first = codename_in(send(client, "/l/clean-air/tip/"))
    second = codename_in(send(client, "/l/clean-air/tip/"))
    for codename in (first, second):
        words = codename.split(" ")
        assert len(words) == 7 and all(word in codenames.word_list() for word in words)
    assert first != second
    for path in ("/tips/reply/", "/l/clean-air/tip/", "/tips/"):
        assert first not in client.get(path).content.decode()
    assert first not in come_back(client, first).content.decode().replace(
        f'name="codename" value="{first}"', ""
    )


def test_the_codename_is_kept_only_as_a_slow_hash_peppered_by_the_instance_secret(
    client, letter, keys, settings
):
    codename = codename_in(send(client, "/l/clean-air/tip/"))
    row = Conversation.objects.values().get()
    assert not any(codename in str(value) for value in row.values())
    assert not any(word in str(row) for word in codename.split())
    derived = services.derive(codename)
    assert row["lookup"] == derived.lookup and len(row["lookup"]) == 64
    settings.SECRET_KEY = "another-secret-0123456789-abcdefghijklmnopq"
    assert services.derive(codename).lookup != row["lookup"]  # the pepper is the secret's
    assert come_back(client, codename).status_code == 404


def test_a_codename_is_the_same_however_it_is_typed(client, letter, keys):
    codename = codename_in(send(client, "/l/clean-air/tip/"))
    typed = "  " + codename.upper().replace(" ", " ,\n ") + " "
    assert come_back(client, typed).status_code == 200


def test_a_codename_that_is_not_one_of_ours_gets_a_clear_error(client, letter, keys):
    response = come_back(client, "correct horse battery staple")
    assert response.status_code == 400
    assert "A codename is 7 words" in response.content.decode()
    response = come_back(client, "abacus abdomen abdominal abide abiding ability qwertyuiop")
    assert response.status_code == 400
    assert "&#x27;qwertyuiop&#x27; is not a word of our list" in response.content.decode()


# --- the round trip -------------------------------------------------------------------------


def test_a_reply_made_with_the_command_reaches_the_source_through_the_codename(
    client, letter, keys, passphrase_file, tmp_path
):
    codename = codename_in(send(client, "/l/clean-air/tip/", "Shredding starts Friday."))
    conversation = Conversation.objects.get()
    assert conversation.status == "received"
    page = come_back(client, codename).content.decode()
    assert 'id="status">Received<' in page and "Shredding" not in page

    shown = read_with(keys[0][2], passphrase_file)
    assert f"Conversation {conversation.pk} (letter clean-air): received" in shown
    assert "Shredding starts Friday." in shown
    conversation.refresh_from_db()
    assert conversation.status == "read"
    assert 'id="status">Read<' in come_back(client, codename).content.decode()

    out = reply_with(keys[1][2], passphrase_file, conversation, "Thank you. Which site?", tmp_path)
    assert "marked answered" in out
    page = come_back(client, codename).content.decode()
    assert 'id="status">Answered<' in page and "Thank you. Which site?" in page

    response = client.post(
        "/tips/reply/",
        {"codename": codename, "action": "send", "message": "The one on Elm Street."},
    )
    assert response.status_code == 200 and 'id="acknowledgement"' in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == "received"
    shown = read_with(keys[0][2], passphrase_file)
    assert shown.index("Shredding") < shown.index("Which site?") < shown.index("Elm Street")


def test_a_reply_is_readable_only_with_the_codename_and_the_recipients_keys(
    client, letter, keys, passphrase_file, tmp_path
):
    codename = codename_in(send(client, "/l/clean-air/tip/"))
    conversation = Conversation.objects.get()
    reply_with(keys[0][2], passphrase_file, conversation, "Noted.", tmp_path)
    sealed = Message.objects.get(from_source=False).sealed
    for private in (services.derive(codename).reply_private, keys[0][0], keys[1][0]):
        assert tipbox.open_envelope(sealed, private)[1]["text"] == "Noted."
    with pytest.raises(sealing.SealingError):
        tipbox.open_envelope(sealed, sealing.generate_keypair()[0])


def test_only_a_recipient_can_answer(client, letter, keys, passphrase_file, tmp_path, outsider):
    send(client, "/l/clean-air/tip/")
    private = sealing.generate_keypair()[0]
    stranger = tmp_path / "stranger.json"
    stranger.write_bytes(sealing.protect_private_key(private, PASSPHRASE))
    with pytest.raises(CommandError, match="not among the recipients"):
        reply_with(str(stranger), passphrase_file, Conversation.objects.get(), "Hi", tmp_path)
    assert Message.objects.count() == 1
    assert "No conversation is sealed to key" in read_with(str(stranger), passphrase_file)


def test_canned_replies_and_statuses_are_shown_to_the_source(client, letter, keys, passphrase_file):
    codename = codename_in(send(client, "/l/clean-air/tip/"))
    conversation = Conversation.objects.get()
    with pytest.raises(CommandError, match="--message-file --canned is required"):
        tips("reply", conversation.pk, "--key", keys[0][2], "--passphrase-file", passphrase_file)
    tips("reply", conversation.pk, "--key", keys[0][2], "--passphrase-file", passphrase_file,
         "--canned", "more")  # fmt: skip
    assert services.CANNED["more"][:40] in come_back(client, codename).content.decode()
    tips("close", conversation.pk)
    page = come_back(client, codename).content.decode()
    assert 'id="status">Closed<' in page and services.CANNED["more"][:40] in page
    response = client.post(
        "/tips/reply/", {"codename": codename, "action": "send", "message": "One more thing."}
    )
    assert response.status_code == 409 and "closed this conversation" in response.content.decode()
    assert Message.objects.filter(from_source=True).count() == 1


# --- wrong, unknown, expired: one answer ---------------------------------------------------


def test_a_wrong_codename_looks_exactly_like_an_unknown_one_and_an_expired_one(
    client, letter, keys, settings
):
    def answer(codename):
        response = come_back(Client(), codename)
        return response.status_code, response.content, sorted(response.items())

    with time_machine.travel("2026-03-02 10:00Z"):
        expired = codename_in(send(client, "/l/clean-air/tip/"))
    with time_machine.travel("2026-07-01 10:00Z"):  # idle 121 days; not purged yet
        live = codename_in(send(client, "/l/clean-air/tip/"))
        words = live.split()
        wrong = " ".join(words[:-1] + [next(w for w in codenames.word_list() if w != words[-1])])
        unknown = codenames.new_codename()
        answers = [answer(wrong), answer(unknown), answer(expired)]
        assert answers[0][0] == 404
        assert answers[0] == answers[1] == answers[2]
        assert come_back(Client(), live).status_code == 200
        services.purge()
        assert answer(expired) == answers[0]  # and after the purge
    assert Conversation.objects.count() == 1


# --- limits ---------------------------------------------------------------------------------


def test_the_limits_and_the_advice_are_on_the_page_before_anything_is_sent(client, letter, keys):
    assert 'href="/l/clean-air/tip/"' in client.get("/l/clean-air/").content.decode()
    page = client.get("/l/clean-air/tip/").content.decode()
    assert "Up to 5 files, 10 MB in all" in page
    assert "At most 10000 characters" in page
    assert 'enctype="multipart/form-data"' in page and 'name="files"' in page
    for advice in ("personal device", "Tor Browser", "loads nothing from any other site"):
        assert advice in page
    assert "2 people who receive tips for this letter" in page


def test_too_many_files_are_refused_with_a_field_error_and_nothing_is_kept(
    client, letter, keys, settings
):
    settings.TIP_MAX_FILES = 2
    files = [(f"f{i}.txt", b"x" * 10) for i in range(3)]
    response = send(client, "/l/clean-air/tip/", "Three files.", files)
    page = response.content.decode()
    assert response.status_code == 400
    assert "At most 2 files can go with one message; 3 were sent" in page
    assert "Three files." in page  # the text is not lost
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_files_larger_than_the_limit_are_refused_and_nothing_is_kept(
    client, letter, keys, settings
):
    settings.TIP_MAX_UPLOAD_BYTES = 100_000
    files = [("a.bin", b"a" * 60_000), ("b.bin", b"b" * 60_000)]
    response = send(client, "/l/clean-air/tip/", "Too big.", files)
    assert response.status_code == 400
    assert "larger than 97.6562 KB in all" in response.content.decode()
    assert not Conversation.objects.exists() and not File.objects.exists()
    assert send(client, "/l/clean-air/tip/", "Fits.", files[:1]).status_code == 200


def test_a_body_larger_than_the_tip_line_takes_gets_413_and_nothing_is_kept(
    client, letter, keys, settings
):
    settings.TIP_MAX_REQUEST_BYTES = 50_000
    response = send(client, "/tips/", "Huge.", [("a.bin", b"a" * 60_000)])
    assert response.status_code == 413 and "Nothing was kept" in response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    response = send(client, "/l/clean-air/tip/", "Huge.", [("a.bin", b"a" * 60_000)])
    assert response.status_code == 413
    assert not Conversation.objects.exists()
    # Elsewhere the usual limit holds.
    assert client.post("/l/clean-air/", {"name": "x" * 70_000}).status_code == 413


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("", "Write a message."),
        ("   \n ", "Write a message."),
        ("x" * 10_001, "at most 10000 characters"),
        ("bell \x07", "invisible control character"),
    ],
)
def test_a_message_that_cannot_be_sent_gets_a_field_error(client, letter, keys, message, error):
    response = send(client, "/l/clean-air/tip/", message, [("a.txt", b"a")])
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page and "choose the files again" in page
    assert not Conversation.objects.exists()


def test_an_upload_never_touches_a_temporary_file(client, letter, keys, settings):
    # Django writes uploads over this size to a temporary file in this folder, which does
    # not exist: had it tried, the request would fail.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.FILE_UPLOAD_TEMP_DIR = "/nonexistent/undersigned-tip-uploads"
    content = b"secret document " * 200_000  # 3.2 MB
    response = send(client, "/l/clean-air/tip/", "Big one.", [("big.pdf", content)])
    assert response.status_code == 200
    stored = bytes(File.objects.get().data)
    assert (
        len(stored) == tipbox.sealed_file_length(len(content)) and b"secret document" not in stored
    )


def test_files_and_messages_are_padded_so_their_lengths_do_not_show(client, letter, keys):
    send(client, "/l/clean-air/tip/", "Short.", [("a", b"x" * 100), ("b", b"y" * 5000)])
    send(client, "/l/clean-air/tip/", "A much longer message " * 20, [("c", b"z")])
    sizes = {len(bytes(row.data)) for row in File.objects.all()}
    assert sizes == {tipbox.sealed_file_length(0)}
    texts = {len(row.sealed["text"]) for row in Message.objects.all()}
    assert len(texts) == 1


def test_a_recipient_saves_the_decrypted_files(client, letter, keys, passphrase_file, tmp_path):
    send(client, "/l/clean-air/tip/", "See files.", [("../../etc/report.csv", b"a,b\n1,2\n")])
    shown = read_with(keys[0][2], passphrase_file, "--save-files", str(tmp_path))
    assert "[file] report.csv (8 bytes" in shown
    (saved,) = tmp_path.glob("*report.csv")
    assert saved.read_bytes() == b"a,b\n1,2\n" and saved.stat().st_mode & 0o077 == 0


# --- who receives ---------------------------------------------------------------------------


def test_a_letter_whose_organizers_hold_no_key_says_nobody_can_receive_and_accepts_nothing(
    client, letter
):
    page = client.get("/l/clean-air/tip/").content.decode()
    assert 'id="nobody"' in page and "<textarea" not in page
    response = send(client, "/l/clean-air/tip/", "Hello?", [("a.txt", b"a")])
    assert response.status_code == 409 and "Nothing was kept" in response.content.decode()
    assert (
        client.get("/tips/").status_code == 200
        and 'id="nobody"' in client.get("/tips/").content.decode()
    )
    assert send(client, "/tips/", "Hello?").status_code == 409
    assert not Conversation.objects.exists()


def test_the_instance_tip_line_goes_to_the_recipients_the_operators_chose(
    client, letter, keys, django_user_model, passphrase_file
):
    operator = django_user_model.objects.create_superuser("opal", "opal@example.org", "pw-opal")
    OrganizerKey.objects.filter(user__username="carlos").update(user=operator)
    assert "Nobody receives" in tips("recipients")
    tips("recipients", "--add", "opal")
    assert tips("recipients") == "opal\t1 key\n"
    codename_in(send(client, "/tips/", "For the site."))
    sealed = Message.objects.get().sealed
    assert tipbox.open_envelope(sealed, keys[1][0])[1]["text"] == "For the site."
    with pytest.raises(sealing.SealingError):
        tipbox.open_envelope(sealed, keys[0][0])  # an organizer of a letter: not for them
    assert Conversation.objects.get().letter is None
    tips("recipients", "--remove", "opal")
    assert send(client, "/tips/", "Again.").status_code == 409
    kinds = list(Event.objects.filter(kind__startswith="tips.").values_list("kind", flat=True))
    assert sorted(kinds) == ["tips.recipient_added", "tips.recipient_removed"]


def test_a_draft_letter_has_no_tip_line(client, draft_letter):
    assert client.get("/l/draft-letter/tip/").status_code == 404


# --- what is kept ---------------------------------------------------------------------------

MESSAGE_CANARY = "Zanzibar-Quokka memo 7731 about Project Bluefin"
FILE_CANARY = b"Xylophone-Narwhal spreadsheet row 4477"
FILE_NAME_CANARY = "Pumpernickel-Ledger-2291.xlsx"


def tip_like_a_careful_source_would(client, keys, smtp_server, passphrase_file, tmp_path):
    """A tip with a file, a reply through the command, a follow-up; the worker's notice sent."""
    content = FILE_CANARY * 3000  # over 100 KB: many pages, and more than one block
    with time_machine.travel("2026-06-22 13:42:37.715+00:00", tick=False):
        response = send(client, "/l/clean-air/tip/", MESSAGE_CANARY, [(FILE_NAME_CANARY, content)])
        codename = codename_in(response)
        reply_with(keys[0][2], passphrase_file, Conversation.objects.get(), "Got it.", tmp_path)
        follow_up = client.post(
            "/tips/reply/",
            {"codename": codename, "action": "send", "message": MESSAGE_CANARY + " again"},
        )
        assert follow_up.status_code == 200
    with time_machine.travel("2026-06-22 14:00:30+00:00", tick=False):
        assert services.send_notices() == 2
        drain()
        smtp_server.wait_for(2)
    return codename


def canaries(codename: str) -> list[str]:
    words = codename.split()
    return [
        MESSAGE_CANARY,
        "Zanzibar-Quokka",
        "Bluefin",
        FILE_CANARY.decode(),
        "Xylophone-Narwhal",
        FILE_NAME_CANARY,
        "Pumpernickel",
        codename,
        "-".join(words),
        " ".join(words[:3]),
        " ".join(words[-3:]),
    ]


@pytest.mark.django_db(transaction=True)
def test_canary_a_tip_leaves_no_plaintext_in_a_dump_the_logs_or_the_cache(
    client, letter, keys, smtp_server, passphrase_file, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    codename = tip_like_a_careful_source_would(client, keys, smtp_server, passphrase_file, tmp_path)
    dump = database_dump()
    assert "tips_message" in dump and "one_message_per_place" in dump  # a real dump
    logs = "\n".join(
        [r.getMessage() for r in caplog.records if not r.name.startswith("mail.")] + [caplog.text]
    )
    cached = (
        cache_contents().decode("latin-1") + repr(recent._entries) + repr(limits.windows._counts)
    )
    mails = "\n".join(str(message) for _, message in smtp_server.messages)
    for canary in canaries(codename):
        for where, text in (("dump", dump), ("logs", logs), ("cache", cached), ("mail", mails)):
            assert canary not in text, f"{canary!r} found in the {where}"
    # What the notice says: that there is something, and nothing else.
    for _, message in smtp_server.messages:
        assert message["Subject"] == "New activity on the tip line of 127.0.0.1:8000"
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert "clean-air" not in body and "Clean air" not in body and "13:" not in body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_canary_a_tip_leaves_no_plaintext_in_the_database_files(
    client, letter, keys, smtp_server, passphrase_file, tmp_path
):
    codename = tip_like_a_careful_source_would(client, keys, smtp_server, passphrase_file, tmp_path)
    files = files_of_the_database()  # SQLite: its file and write-ahead log, not checkpointed
    if connection.vendor == "sqlite":
        wal = [path for path in files if path.name.endswith("-wal")]
        assert wal and sum(path.stat().st_size for path in wal) > 100_000
    contents = read_database_files(files)
    assert sum(len(data) for _, data in contents) > 200_000  # the real thing
    found = []
    for path, data in contents:
        for canary in canaries(codename):
            for encoded in (canary.encode(), canary.encode("utf-16-le")):
                if encoded in data:
                    found.append((str(path), canary))
    assert not found, found


def test_no_value_kept_about_a_tip_is_finer_than_the_day(
    client, letter, keys, passphrase_file, tmp_path
):
    with time_machine.travel("2026-06-22 13:42:37.715+00:00", tick=False):
        send(client, "/l/clean-air/tip/", "When?")
        conversation = Conversation.objects.get()
        reply_with(keys[0][2], passphrase_file, conversation, "Now.", tmp_path)
        tips("close", conversation.pk)
    rows = [*Conversation.objects.values(), *Message.objects.values("on", "position")]
    text = repr(rows)
    assert "2026, 6, 22" in text and "13, 42" not in text and "13:42" not in text
    assert "datetime.datetime" not in text  # days only
    # A notice owed says for which hour, until it is sent after that hour; then nothing.
    assert {n.pending_since.isoformat() for n in Notice.objects.all()} == {
        "2026-06-22T13:00:00+00:00"
    }
    with time_machine.travel("2026-06-22 14:00:30+00:00", tick=False):
        services.send_notices()
    assert list(Notice.objects.values_list("pending_since", flat=True)) == [None, None]
    hours = {event.at.isoformat() for event in Event.objects.filter(kind__startswith="tip.")}
    assert hours == {"2026-06-22T13:00:00+00:00"}  # the recipients' acts, to the hour


def test_nothing_links_a_tip_to_a_signature_or_a_network(client, letter, keys):
    ip = "203.0.113.99"
    client.post("/l/clean-air/", {"name": "Ada", "email": "ada@example.org"}, REMOTE_ADDR=ip)
    send(client, "/l/clean-air/tip/", "Also me.", REMOTE_ADDR=ip)
    for model in (Conversation, Message, File, Recipient, Notice):
        related = {f.related_model._meta.label for f in model._meta.get_fields() if f.related_model}
        assert related <= {"letters.Letter", "auth.User", "tips.Conversation", "tips.Message",
                           "tips.File"}, model  # fmt: skip
    settle()
    kept = repr(list(Conversation.objects.values())) + repr(list(Message.objects.values()))
    signature = Signature.objects.get()
    assert ip not in kept and signature.ip_hash and signature.ip_hash not in kept


# --- notices --------------------------------------------------------------------------------


def test_recipients_are_told_only_that_there_is_activity_at_most_once_an_hour(
    client, letter, keys, organizer, co_organizer
):
    with time_machine.travel("2026-06-22 13:10Z"):
        send(client, "/l/clean-air/tip/")
        send(client, "/l/clean-air/tip/")
        assert services.send_notices() == 0  # not before the hour is over
    with time_machine.travel("2026-06-22 13:59Z"):
        assert services.send_notices() == 0
    with time_machine.travel("2026-06-22 14:00:30Z"):
        assert services.send_notices() == 2  # one each, for both tips
        assert services.send_notices() == 0
        send(client, "/l/clean-air/tip/")
    with time_machine.travel("2026-06-22 14:50Z"):
        assert services.send_notices() == 0
    with time_machine.travel("2026-06-22 15:01Z"):
        assert services.send_notices() == 2
    rows = OutgoingEmail.objects.filter(kind="tip-activity")
    assert sorted(row.to for row in rows) == sorted([organizer.email, co_organizer.email] * 2)
    for row in rows:
        assert row.subject == "New activity on the tip line of 127.0.0.1:8000"
        for secret in ("Clean air", "clean-air", "A tip.", "13:", "14:", "22 June"):
            assert secret not in row.body_text and secret not in row.body_html
    drain()
    services.send_notices()
    assert not OutgoingEmail.objects.filter(kind="tip-activity").exists()  # no record left


# --- retention and deletion -----------------------------------------------------------------


def test_tips_are_deleted_after_the_retention_period(client, letter, keys, settings):
    settings.TIP_RETENTION_DAYS = 30
    with time_machine.travel("2026-06-01 10:00Z"):
        old = codename_in(send(client, "/l/clean-air/tip/", files=[("a", b"a")]))
        services.close(services.find(services.derive(old)), via="command")
        kept = codename_in(send(client, "/l/clean-air/tip/"))
    with time_machine.travel("2026-06-25 10:00Z"):
        services.send_more(services.find(services.derive(kept)), "Still here.")
    with time_machine.travel("2026-07-02 10:00Z"):
        from undersigned.signatures.retention import purge

        done = purge()
        assert done["idle tip conversations deleted"] == 1
        assert done["old tip messages deleted"] == 2  # the old conversation's and kept's first
        assert done["old tip events deleted"] == 1  # a recipient's act about a deleted tip
        assert not Event.objects.filter(kind__startswith="tip.").exists()
        assert Event.objects.filter(kind="letter.published").exists()  # others stay
        assert come_back(Client(), old).status_code == 404
        page = come_back(Client(), kept).content.decode()
        assert page.count("sent a message on") == 1
    assert not File.objects.exists()


def test_a_recipient_deletes_a_conversation_at_once(client, letter, keys):
    codename = codename_in(send(client, "/l/clean-air/tip/", files=[("a", b"a")]))
    conversation = Conversation.objects.get()
    assert "deleted" in tips("delete", conversation.pk)
    assert not (Conversation.objects.exists() or Message.objects.exists() or File.objects.exists())
    assert come_back(client, codename).status_code == 404
    assert Event.objects.filter(kind="tip.deleted", letter=letter).count() == 1
    with pytest.raises(CommandError, match="There is no conversation"):
        tips("close", conversation.pk)


# --- rate limits ----------------------------------------------------------------------------


def test_codename_attempts_are_limited_per_network_and_on_the_whole_site(
    client, letter, keys, settings
):
    codename = codename_in(send(client, "/l/clean-air/tip/", REMOTE_ADDR="198.51.100.1"))
    settings.TIP_ATTEMPTS_PER_HOUR = 3
    guesser = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(3):
        assert come_back(guesser, codenames.new_codename()).status_code == 404
    refused = come_back(guesser, codename)  # even the right one, now
    assert refused.status_code == 429 and "Too many codenames" in refused.content.decode()
    assert come_back(Client(REMOTE_ADDR="198.51.100.1"), codename).status_code == 200
    # Counted under keyed names: nothing says who tried.
    assert not any("203.0.113" in str(key) for key in limits.windows._counts)
    settings.TIP_ATTEMPTS_PER_MINUTE = 1
    limits.windows.clear()
    assert come_back(Client(REMOTE_ADDR="192.0.2.1"), codename).status_code == 200
    assert come_back(Client(REMOTE_ADDR="192.0.2.2"), codename).status_code == 429
    assert send(Client(REMOTE_ADDR="192.0.2.3"), "/l/clean-air/tip/").status_code == 429
    assert Conversation.objects.count() == 1


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tips/", "/l/clean-air/tip/", "/tips/reply/"])
def test_the_tip_pages_are_never_stored_send_no_referrer_and_load_nothing_from_elsewhere(
    client, letter, keys, path
):
    codename = codename_in(send(client, "/l/clean-air/tip/"))
    responses = [
        client.get(path),
        client.post(path, {"codename": codename} if "reply" in path else {"message": "Hi"}),
        client.post(path, {}),
    ]
    for response in responses:
        assert response["Cache-Control"] == "private, no-store", path
        assert response["Referrer-Policy"] == "no-referrer"
        policy = response["Content-Security-Policy"]
        for rule in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'"):
            assert rule in policy
        assert "unsafe-inline" not in policy and "script-src 'self'" in policy
        assert not response.cookies  # no cookie at all, let alone one that outlives the visit
        page = response.content.decode()
        assert '<meta name="referrer" content="no-referrer">' in page
        assert "<script" not in page and "style=" not in page
        assert not re.search(r'(src|<link[^>]*href)="(https?:)?//', page)


# --- the whole flow in a browser, JavaScript off --------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_a_source_tips_reads_a_reply_and_writes_again_in_a_browser_without_javascript(
    request, live_server, letter, keys, passphrase_file, tmp_path
):
    # The browser fixtures of test_browser.py (imported above), by name.
    base = request.getfixturevalue("site_url")
    page = request.getfixturevalue("new_context")(java_script_enabled=False).new_page()
    page.goto(base + "/l/clean-air/tip/")
    expect(page.locator("#files-limits")).to_contain_text("Up to 5 files, 10 MB in all")
    page.get_by_label("Your message").fill("The contract is signed on Monday.")
    page.get_by_label("Files (optional)").set_input_files(
        [{"name": "minutes.txt", "mimeType": "text/plain", "buffer": b"Item 4: the contract."}]
    )
    page.get_by_role("button", name="Send the tip").click()
    expect(page.get_by_role("heading", name="Received: thank you")).to_be_visible()
    expect(page.locator("#acknowledgement")).to_contain_text("Your message and 1 file arrived")
    codename = page.locator("#codename").text_content()
    assert codename and len(codename.split()) == 7

    conversation = Conversation.objects.get()
    reply_with(keys[0][2], passphrase_file, conversation, "Which contract?", tmp_path)

    page.goto(base + "/tips/reply/")
    page.get_by_label("Your codename").fill(codename)
    page.get_by_role("button", name="Open").click()
    expect(page.locator("#status")).to_have_text("Answered")
    expect(page.locator("blockquote.reply")).to_have_text("Which contract?")
    expect(page.locator(".conversation")).to_contain_text("with 1 file")

    page.get_by_label("Your message").fill("The one with the ministry.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#acknowledgement")).to_contain_text("Received")
    expect(page.locator("#status")).to_have_text("Received")
    assert page.context.third_party_requests == []

    shown = read_with(keys[1][2], passphrase_file)
    for text in ("The contract is signed on Monday.", "[file] minutes.txt (21 bytes", "ministry"):
        assert text in shown


def test_a_new_instance_tip_recipient_is_mailed_to_every_operator(django_user_model, organizer):
    django_user_model.objects.create_superuser("opal", "opal@example.org", "pw-opal")
    django_user_model.objects.create_superuser("otto", "otto@example.org", "pw-otto")
    tips("recipients", "--add", organizer.username)
    settle()  # the worker's fan-out
    rows = OutgoingEmail.objects.filter(kind="tip-recipient-added")
    assert sorted(row.to for row in rows) == ["opal@example.org", "otto@example.org"]
    assert all(row.subject.startswith("olivia now receives the tips") for row in rows)


def test_a_key_added_to_an_instance_tip_recipient_is_mailed_to_every_operator(
    django_user_model, organizer
):
    django_user_model.objects.create_superuser("opal", "opal@example.org", "pw-opal")
    Recipient.objects.create(user=organizer)
    before = OutgoingEmail.objects.count()
    call_command("keys", "add", organizer.username, sealing.generate_keypair()[1])
    settle()
    rows = OutgoingEmail.objects.filter(kind="tip-recipient-key-added")
    assert [row.to for row in rows] == ["opal@example.org"]
    assert "olivia, who receives the tips" in rows[0].subject
    assert OutgoingEmail.objects.count() == before + 1  # no letter, so no organizer mail
