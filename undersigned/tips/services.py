"""The tip line's verbs. Pages and the ``tips`` command call these and only translate their
errors (``TipError``).

- A source ``submit``s a message (and files, already sealed by ``uploads``) to a letter's
  organizers who hold a key, or to the instance's tip recipients; it gets a codename, shown
  once. With it they ``find`` the conversation again, read the replies and ``send_more``.
- A recipient ``read``s with their private key (offline: nothing on the server can open a
  tip), ``reply``s (sealed to the codename's key, and to the recipients), sets a status,
  ``delete``s a conversation at once; ``purge`` deletes what is older than the retention.

Nothing a source gives is ever in an event, a log line or the cache; times are days."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone
from nacl.public import PrivateKey

from undersigned import events
from undersigned.accounts.models import OrganizerKey
from undersigned.events.models import Event
from undersigned.letters.models import Letter
from undersigned.lib import codenames, sealing, tipbox
from undersigned.lib.text import reject_control_characters
from undersigned.lib.times import this_hour
from undersigned.lib.tokens import derive_key
from undersigned.moderation import limits
from undersigned.outbox import mail
from undersigned.outbox.models import OutgoingEmail
from undersigned.signatures.privacy import ip_hash
from undersigned.tips.models import Conversation, File, Message, Notice, Recipient
from undersigned.tips.uploads import Envelope

MAX_MESSAGE = 10_000  # characters
Status = Conversation.Status

# Short answers a recipient can send without writing one (``tips reply ID --canned NAME``).
CANNED = {
    "thanks": (
        "Thank you. We have received your message and will read it carefully. Check back "
        "here with your codename for questions or news."
    ),
    "more": (
        "Thank you. Could you tell us more? Anything you can share about how you know this, "
        "and any documents that show it, helps. Remove names and metadata you do not want "
        "us to see."
    ),
    "following": "We are following this up. Check back here with your codename for news.",
    "cannot": (
        "Thank you for writing. We cannot follow this up, and are closing this conversation."
    ),
}


class TipError(Exception):
    """A tip-line act that cannot be done; the message says why and what to do."""

    status = 400


class NobodyCanReceive(TipError):
    status = 409


class ConversationClosed(TipError):
    status = 409


class TooManyAttempts(TipError):
    status = 429


class NotARecipient(TipError):
    status = 403


NOBODY = (
    "Nobody can receive tips here yet: none of the recipients has a key to read them with. "
    "Nothing was kept."
)
TOO_MANY = (
    "Too many codenames were tried from your network, or on the whole site, in the last "
    "while. Nothing was kept. Wait an hour (or a minute) and try again."
)


def _pepper() -> bytes:
    return derive_key(settings.SECRET_KEY, "tip-codename")


def derive(codename: str) -> codenames.Derived:
    """Raises ``codenames.CodenameError`` for a text that is not a codename of ours."""
    return codenames.derive(codename, _pepper())


def recipient_keys(letter: Letter | None) -> list[OrganizerKey]:
    """Whose keys a new message is sealed to: the letter's organizers', or the instance's
    tip recipients' (active accounts only)."""
    if letter is None:
        keys = OrganizerKey.objects.filter(user__tip_recipient__isnull=False)
    else:
        keys = OrganizerKey.objects.for_letter(letter)
    return list(keys.filter(user__is_active=True).select_related("user").order_by("key_id"))


def can_receive(letter: Letter | None) -> int:
    """How many people can read a tip sent there now (0: nobody)."""
    return len({key.user_id for key in recipient_keys(letter)})


def count_attempt(client_address: str) -> None:
    """Count one codename derivation (a new tip, a return, a follow-up) against the limits,
    before any is done; raises ``TooManyAttempts`` past them. Counts live in the limits'
    store under keyed names of the client's network hash, emptied by time: nothing says who
    tried."""
    client = ip_hash(client_address)[0]
    exempt = not client or limits.client_exempt(client_address)
    client_key = f"tip-client:{client}"
    if (not exempt and limits.count(client_key, 3600) >= settings.TIP_ATTEMPTS_PER_HOUR) or (
        limits.count("tip-all", 60) >= settings.TIP_ATTEMPTS_PER_MINUTE
    ):
        raise TooManyAttempts(TOO_MANY)
    if not exempt:
        limits.count(client_key, 3600, add=1)
    limits.count("tip-all", 60, add=1)


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise TipError("Write a message.")
    if len(text) > MAX_MESSAGE:
        raise TipError(f"A message is at most {MAX_MESSAGE:,} characters; this has {len(text):,}.")
    try:
        reject_control_characters(text, multiline=True)
    except ValidationError as exc:
        raise TipError(" ".join(exc.messages)) from None
    return text


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def submit(letter: Letter | None, text: str, envelope: Envelope | None = None) -> str:
    """Start a conversation; returns its codename (which the server does not keep)."""
    text = _check_text(text)
    envelope = envelope or Envelope()
    keys = recipient_keys(letter)
    if not keys:
        raise NobodyCanReceive(NOBODY)
    codename = codenames.new_codename()
    derived = derive(codename)
    with transaction.atomic():
        conversation = Conversation.objects.create(
            letter=letter, lookup=derived.lookup, reply_key=_b64(derived.reply_public)
        )
        _add(conversation, True, text, envelope, [key.public_key for key in keys])
        _owe_notice({key.user_id for key in keys})
    return codename


def _cutoff(now=None):
    return (now or timezone.now()).date() - timedelta(days=settings.TIP_RETENTION_DAYS)


def find(derived: codenames.Derived) -> Conversation | None:
    """The conversation of a derived codename, or None: unknown, wrong, deleted or expired
    (idle past the retention, even before the hourly purge) all look the same."""
    return (
        Conversation.objects.filter(lookup=derived.lookup, last_activity__gte=_cutoff())
        .select_related("letter")
        .first()
    )


def send_more(conversation: Conversation, text: str, envelope: Envelope | None = None) -> None:
    """The source writes again in their conversation."""
    text = _check_text(text)
    envelope = envelope or Envelope()
    if conversation.status == Status.CLOSED:
        raise ConversationClosed(
            "The recipients closed this conversation; nothing was kept. To tell them more, "
            "start a new one."
        )
    keys = recipient_keys(conversation.letter)
    if not keys:
        raise NobodyCanReceive(NOBODY)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        _add(locked, True, text, envelope, [key.public_key for key in keys])
        locked.status = Status.RECEIVED
        locked.save(update_fields=["status"])
        _owe_notice({key.user_id for key in keys})


def _add(
    conversation: Conversation,
    from_source: bool,
    text: str,
    envelope: Envelope,
    public_keys: list[str],
) -> Message:
    files = [{"name": f.name, "size": f.size, "type": f.content_type} for f in envelope.files]
    sealed = tipbox.seal_envelope(envelope.data_key, {"text": text, "files": files}, public_keys)
    last = conversation.messages.aggregate(last=Max("position"))["last"] or 0
    day = timezone.now().date()
    message = Message.objects.create(
        conversation=conversation, position=last + 1, from_source=from_source, sealed=sealed, on=day
    )
    File.objects.bulk_create(
        File(message=message, position=f.position, data=f.ciphertext) for f in envelope.files
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_activity=day)
    return message


# --- what the source sees -------------------------------------------------------------------


@dataclass
class Entry:
    """One message as the source's page shows it."""

    on: object
    from_source: bool
    text: str = ""  # a reply's text; the source's own messages are not readable to them
    files: int = 0


def for_source(conversation: Conversation, derived: codenames.Derived) -> list[Entry]:
    """The conversation as its source sees it: their own messages by date and number of
    files only (they are sealed to the recipients alone, so that whoever forces the codename
    out of a source cannot read what they told us), and the replies, opened with the
    codename's key."""
    entries = []
    for message in conversation.messages.all():
        entry = Entry(on=message.on, from_source=message.from_source)
        if message.from_source:
            entry.files = message.files.count()
        else:
            try:
                entry.text = str(
                    tipbox.open_envelope(message.sealed, derived.reply_private)[1].get("text", "")
                )
            except sealing.SealingError:
                entry.text = "(This reply cannot be opened with your codename.)"
        entries.append(entry)
    return entries


# --- what the recipients do -----------------------------------------------------------------


@dataclass
class OpenedFile:
    name: str
    size: int
    content_type: str
    position: int
    data_key: bytes = field(repr=False)
    row_id: int = 0

    def read(self) -> bytes:
        row = File.objects.get(pk=self.row_id)
        return tipbox.open_file(self.data_key, self.position, bytes(row.data))


@dataclass
class OpenedMessage:
    position: int
    on: object
    from_source: bool
    text: str | None  # None: not sealed to this key (it was added later)
    files: list[OpenedFile] = field(default_factory=list)


@dataclass
class OpenedConversation:
    conversation: Conversation
    messages: list[OpenedMessage]
    status: str = ""  # as it was when opened (reading marks a received one read)


def _open(conversation: Conversation, private: bytes) -> OpenedConversation | None:
    """The conversation opened with ``private``, or None if no message of it was sealed to
    that key."""
    without_data = Prefetch("files", queryset=File.objects.defer("data"))  # read when asked
    rows = list(conversation.messages.prefetch_related(without_data))
    if not any(tipbox.is_recipient(row.sealed, private) for row in rows):
        return None
    opened = []
    for row in rows:
        try:
            data_key, content = tipbox.open_envelope(row.sealed, private)
        except sealing.SealingError:
            opened.append(OpenedMessage(row.position, row.on, row.from_source, None))
            continue
        listed = content.get("files") or []
        files = [
            OpenedFile(
                name=str(about.get("name", "file")),
                size=int(about.get("size", 0)),
                content_type=str(about.get("type", "")),
                position=stored.position,
                data_key=data_key,
                row_id=stored.pk,
            )
            for about, stored in zip(listed, row.files.all(), strict=False)
        ]
        opened.append(
            OpenedMessage(row.position, row.on, row.from_source, str(content.get("text")), files)
        )
    return OpenedConversation(conversation, opened, conversation.status)


def read(private: bytes, conversation_id: str | None = None, *, via: str = "command"):
    """The conversations that ``private`` opens (oldest activity first); those that were
    new are marked read."""
    conversations = Conversation.objects.select_related("letter").order_by("last_activity", "id")
    if conversation_id:
        conversations = conversations.filter(pk=conversation_id)
    found = []
    for conversation in conversations:
        opened = _open(conversation, private)
        if opened is None:
            continue
        if conversation.status == Status.RECEIVED:
            set_status(conversation, Status.READ, via=via)
        found.append(opened)
    return found


def get(conversation_id: str) -> Conversation:
    conversation = Conversation.objects.select_related("letter").filter(pk=conversation_id).first()
    if conversation is None:
        raise TipError(
            f"There is no conversation {conversation_id!r} (it may have been deleted or have "
            "expired); `undersigned tips read --key FILE` lists them."
        )
    return conversation


def reply(
    conversation: Conversation, private: bytes, text: str, *, actor=None, via: str
) -> Message:
    """A recipient answers: sealed to the codename's key (so the source reads it) and to the
    recipients' keys (so they keep reading the conversation). ``private`` must be a key the
    conversation was sealed to."""
    text = _check_text(text)
    rows = list(conversation.messages.all())
    if not any(tipbox.is_recipient(row.sealed, private) for row in rows):
        raise NotARecipient(
            f"Key {sealing.private_key_id(private)} is not among the recipients of conversation "
            f"{conversation.pk}; only they can answer it."
        )
    own = _b64(bytes(PrivateKey(private).public_key))
    keys = [key.public_key for key in recipient_keys(conversation.letter)]
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        message = _add(locked, False, text, Envelope(), [locked.reply_key, own, *keys])
        locked.status = Status.ANSWERED
        locked.save(update_fields=["status"])
        events.record("tip.replied", letter=locked.letter, actor=actor, via=via)
    conversation.refresh_from_db()
    return message


def set_status(conversation: Conversation, status: str, *, actor=None, via: str) -> None:
    if status not in Status.values:
        raise TipError(f"A status is one of {', '.join(Status.values)}, not {status!r}.")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(status=status)
        events.record("tip.status", letter=conversation.letter, actor=actor, via=via, status=status)
    conversation.status = status


def close(conversation: Conversation, *, actor=None, via: str) -> None:
    set_status(conversation, Status.CLOSED, actor=actor, via=via)


def delete(conversation: Conversation, *, actor=None, via: str) -> None:
    """Delete a conversation, its messages and files at once; its codename then matches
    nothing, exactly like a wrong one."""
    with transaction.atomic():
        events.record("tip.deleted", letter=conversation.letter, actor=actor, via=via)
        conversation.delete()


# --- notices and retention (the worker) -----------------------------------------------------


def _owe_notice(user_ids: Iterable[int]) -> None:
    """Each of these recipients is owed a notice for this hour's activity (unless one is
    owed already: then that earlier one covers it)."""
    hour = this_hour()
    for user_id in sorted(user_ids):
        notice, _ = Notice.objects.get_or_create(user_id=user_id)
        Notice.objects.filter(pk=notice.pk, pending_since__isnull=True).update(pending_since=hour)


def send_notices() -> int:
    """Mail "new activity on the tip line" to each recipient owed a notice for an hour that
    is over: at most one an hour per recipient, never saying what, where or when. Returns
    how many were queued. Sent notices leave no mail record behind."""
    OutgoingEmail.objects.filter(
        kind="tip-activity",
        status__in=[OutgoingEmail.Status.SENT, OutgoingEmail.Status.FAILED],
    ).delete()
    hour = this_hour()
    queued = 0
    due = Notice.objects.filter(pending_since__lt=hour).select_related("user")
    for notice in due:
        with transaction.atomic():
            claimed = Notice.objects.filter(
                pk=notice.pk, pending_since=notice.pending_since
            ).update(pending_since=None)
            if claimed and notice.user.is_active and notice.user.email:
                mail.send_tip_activity(notice.user.email)
                queued += 1
    return queued


def purge(now=None) -> dict[str, int]:
    """Delete messages older than the retention, conversations idle for longer (their
    codenames then match nothing), and the recipients' events about tips from before it."""
    cutoff = _cutoff(now)
    start = datetime.combine(cutoff, time.min, tzinfo=UTC)
    done = {
        "old tip messages deleted": Message.objects.filter(on__lt=cutoff)
        .delete()[1]
        .get("tips.Message", 0),
        "idle tip conversations deleted": Conversation.objects.filter(last_activity__lt=cutoff)
        .delete()[1]
        .get("tips.Conversation", 0),
        "old tip events deleted": Event.objects.filter(kind__startswith="tip.", at__lt=start)
        .delete()[1]
        .get("events.Event", 0),
    }
    return done


# --- the instance's recipients --------------------------------------------------------------


def add_recipient(user, *, actor=None, via: str) -> Recipient:
    """``user``'s keys receive the tips sent to the whole instance from now on. Every
    operator is told: a stolen operator account could otherwise add itself unseen."""
    if Recipient.objects.filter(user=user).exists():
        raise TipError(f"{user.get_username()} receives the instance's tips already.")
    with transaction.atomic():
        recipient = Recipient.objects.create(user=user)
        events.record("tips.recipient_added", actor=actor, via=via, user=user.get_username())
    return recipient


def remove_recipient(user, *, actor=None, via: str) -> None:
    with transaction.atomic():
        if not Recipient.objects.filter(user=user).delete()[0]:
            raise TipError(f"{user.get_username()} does not receive the instance's tips.")
        events.record("tips.recipient_removed", actor=actor, via=via, user=user.get_username())
