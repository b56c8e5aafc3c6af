"""The registry of event kinds: for each, who may see it, how it reads, which data it may
hold, which mails it sets off and how long it is kept.

An event never holds a signer's identity: no email address, name, affiliation, comment,
client-address hash or exact time of a signature (tests/test_events.py walks this registry).
Kinds that the worker records (a milestone, an alert) are dated to the hour, since the moment
they happened can date the signature that caused them; only a person's own act (an
organizer's, an operator's) is dated exactly.

To add a kind: one entry below, then ``events.record("the.kind", letter=..., actor=..., **data)``
inside the transaction of the act (CONTRIBUTING.md has the recipe)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from undersigned.events.models import Audience


class FanOut(StrEnum):
    NONE = "none"
    ORGANIZERS = "organizers"  # mail every organizer of the letter who has an address
    OPERATORS = "operators"  # mail every active superuser who has an address
    # Mail the letter's subscribers (those who asked for updates), when its data says
    # ``mail``; once per subscriber (``subscriptions.services.deliver``).
    SUBSCRIBERS = "subscribers"


@dataclass(frozen=True)
class Kind:
    name: str
    audience: Audience
    text: str  # how it reads on a timeline or in the audit log; ``{key}`` from its data
    keys: frozenset[str] = frozenset()
    exact_time: bool = True  # False: dated to the hour (see the module's docstring)
    fan_out: FanOut = FanOut.NONE
    mail: str = ""  # the mail kind (templates emails/<mail>-*) that the fan-out sends
    retention: timedelta | None = None  # None: kept as long as its letter

    def describe(self, data: dict) -> str:
        return self.text.format_map(_Blank(data))


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {kind.name: kind for kind in kinds}


_PUBLIC, _ORGANIZERS, _OPERATORS = Audience.PUBLIC, Audience.ORGANIZERS, Audience.OPERATORS
_KEY, _MESSAGE = frozenset({"key_id", "user"}), frozenset({"message"})
_USER, _FACTOR = frozenset({"user"}), frozenset({"user", "factor"})
_TOKEN = frozenset({"prefix", "scope", "label", "user"})

KINDS = _kinds(
    # A letter's own life, by its organizers (or an operator).
    Kind("letter.created", _ORGANIZERS, "Draft created"),
    Kind("letter.deleted", _OPERATORS, "Letter {slug} deleted", frozenset({"slug"})),
    Kind("letter.edited", _ORGANIZERS, "Edited: {fields}", frozenset({"fields"})),
    Kind(
        "letter.organizers",
        _ORGANIZERS,
        "Organizers changed",
        frozenset({"added", "removed", "roles"}),
    ),
    Kind(
        "letter.invited",
        _ORGANIZERS,
        "An organizer was invited as {role}",
        frozenset({"invitation", "role"}),
    ),
    Kind("letter.published", _PUBLIC, "Published"),
    Kind(
        "letter.revised",
        _PUBLIC,
        "Version {number} of the text published",
        frozenset({"number", "corrections_only"}),
    ),
    Kind("letter.closed", _PUBLIC, "Closed to new signatures"),
    Kind("letter.reopened", _PUBLIC, "Reopened for signatures"),
    Kind("letter.paused", _ORGANIZERS, "Signing paused: {message}", _MESSAGE),
    Kind("letter.resumed", _ORGANIZERS, "Signing resumed"),
    Kind("letter.exported", _ORGANIZERS, "Signatures exported ({format})", frozenset({"format"})),
    Kind(
        "letter.key_destroyed",
        _ORGANIZERS,
        "Hashing key destroyed: no address can be tested against its signatures any more",
        exact_time=False,
    ),
    # Organizers' sealing keys: a stolen account could add one to read later hidden names,
    # so every organizer of each letter concerned is told.
    Kind(
        "key.added",
        _ORGANIZERS,
        "Key {key_id} added for {user}",
        _KEY,
        fan_out=FanOut.ORGANIZERS,
        mail="key-added",
    ),
    Kind(
        "key.removed", _ORGANIZERS, "Key {key_id} of {user} removed", frozenset({"key_id", "user"})
    ),
    # Moderation, by operators. An invalidation's count and reason are public.
    Kind(
        "signatures.invalidated",
        _PUBLIC,
        "{count} signatures removed from the count: {reason}",
        frozenset({"invalidation", "count", "reason"}),
    ),
    Kind(
        "signatures.restored",
        _PUBLIC,
        "{count} removed signatures counted again",
        frozenset({"invalidation", "count"}),
    ),
    Kind(
        "signatures.released",
        _PUBLIC,
        "{count} held signatures counted after review",
        frozenset({"count", "reason"}),
    ),
    # The public timeline, by the organizers.
    Kind(
        "update.posted",
        _PUBLIC,
        "Update",
        frozenset({"update", "mail"}),
        fan_out=FanOut.SUBSCRIBERS,
        mail="news",
    ),
    Kind("update.edited", _PUBLIC, "Update corrected", frozenset({"update"})),
    Kind("demand.added", _PUBLIC, "Demand added: {text}", frozenset({"demand", "text"})),
    Kind(
        "demand.status",
        _PUBLIC,
        "Demand {status}: {text}",
        frozenset({"demand", "text", "status", "note", "mail"}),
        fan_out=FanOut.SUBSCRIBERS,
        mail="news",
    ),
    Kind(
        "response.recorded",
        _PUBLIC,
        "Response by {by}",
        frozenset({"response", "by", "mail"}),
        fan_out=FanOut.SUBSCRIBERS,
        mail="news",
    ),
    Kind("policy.changed", _OPERATORS, "Abuse policy changed: {fields}", frozenset({"fields"})),
    Kind(
        "instance.paused",
        _OPERATORS,
        "Signing paused everywhere: {message}",
        frozenset({"message"}),
    ),
    Kind("instance.resumed", _OPERATORS, "Signing resumed everywhere"),
    # The tip line: what its recipients do, never what a source sent. Dated to the hour (a
    # reply's time could date the tip it answers) and deleted with the tips, after
    # UNDERSIGNED_TIP_RETENTION_DAYS (tips/services.py, purge).
    Kind("tip.replied", _ORGANIZERS, "A tip was answered", exact_time=False),
    Kind(
        "tip.status",
        _ORGANIZERS,
        "A tip was marked {status}",
        frozenset({"status"}),
        exact_time=False,
    ),
    Kind("tip.deleted", _ORGANIZERS, "A tip conversation was deleted", exact_time=False),
    # Who reads the instance's tips: a stolen operator account could add itself, so every
    # operator is told.
    Kind(
        "tips.recipient_added",
        _OPERATORS,
        "{user} now receives the instance's tips",
        frozenset({"user"}),
        fan_out=FanOut.OPERATORS,
        mail="tip-recipient-added",
    ),
    Kind(
        "tips.recipient_key_added",
        _OPERATORS,
        "Key {key_id} added for {user}, who receives the instance's tips",
        _KEY,
        fan_out=FanOut.OPERATORS,
        mail="tip-recipient-key-added",
    ),
    Kind(
        "tips.recipient_removed",
        _OPERATORS,
        "{user} no longer receives the instance's tips",
        frozenset({"user"}),
    ),
    # Recorded by the counter (the worker), dated to the hour: the hour could otherwise date
    # the signature that reached it.
    Kind(
        "letter.milestone",
        _PUBLIC,
        "{count} signatures",
        frozenset({"count"}),
        exact_time=False,
        fan_out=FanOut.ORGANIZERS,
        mail="milestone",
    ),
    # Pledges attached to a letter (undersigned/pledges/): on the letter's timeline and feed.
    # Decided by the worker, so dated to the hour; never who committed.
    Kind(
        "pledge.published",
        _PUBLIC,
        "Pledge: I will {action}, if {threshold} people commit",
        frozenset({"pledge", "action", "threshold"}),
    ),
    Kind(
        "pledge.met",
        _PUBLIC,
        "Pledge met: {count} committed to {action}",
        frozenset({"pledge", "action", "threshold", "count"}),
        exact_time=False,
        fan_out=FanOut.ORGANIZERS,
        mail="pledge-decided",
    ),
    Kind(
        "pledge.failed",
        _PUBLIC,
        "Pledge not met: {count} of {threshold} committed to {action}",
        frozenset({"pledge", "action", "threshold", "count"}),
        exact_time=False,
        fan_out=FanOut.ORGANIZERS,
        mail="pledge-decided",
    ),
    Kind(
        "pledge.announced",
        _ORGANIZERS,
        "Pledge {pledge} announced to its committers",
        frozenset({"pledge"}),
    ),
    # Recorded by the worker: dated to the hour. The alert names the trend row (which holds
    # the key, and goes with the address hashes), not the key itself.
    Kind(
        "trend.alert",
        _OPERATORS,
        "{count} signatures by one {field} in the hour from {hour}",
        frozenset({"trend", "field", "count", "threshold", "hour"}),
        exact_time=False,
        fan_out=FanOut.OPERATORS,
        mail="trend-alert",
        retention=timedelta(days=90),
    ),
    # Organizer accounts (accounts/): second factors, for the operators' log; API tokens, in
    # the log of each letter they reach (a stolen account could make one to keep a way in).
    Kind("account.factor_added", _OPERATORS, "{user} added a second factor: {factor}", _FACTOR),
    Kind("account.factor_removed", _OPERATORS, "{user} removed a second factor: {factor}", _FACTOR),
    Kind("account.recovery_codes", _OPERATORS, "{user} made new recovery codes", _USER),
    Kind(
        "token.created",
        _ORGANIZERS,
        "API token {prefix} ({scope}) created for {user}",
        _TOKEN,
    ),
    Kind("token.revoked", _ORGANIZERS, "API token {prefix} of {user} revoked", _TOKEN),
)
