"""A letter and its life: the letter and its members-only passes (``letter``), its versions,
updates, demands and the addressee's responses (``life``), its organizers, their invitations
and the addresses it had (``team``)."""

from undersigned.letters.models.letter import (
    Letter,
    LetterDict,
    LetterQuerySet,
    MemberPass,
    _new_key_salt,  # noqa: F401  (migration 0001 names it here)
)
from undersigned.letters.models.life import Demand, DemandNote, Response, Update, Version
from undersigned.letters.models.milestones import Milestone
from undersigned.letters.models.team import Invitation, Organizer, SlugRedirect

__all__ = [
    "Demand",
    "DemandNote",
    "Invitation",
    "Letter",
    "LetterDict",
    "Milestone",
    "LetterQuerySet",
    "MemberPass",
    "Organizer",
    "Response",
    "SlugRedirect",
    "Update",
    "Version",
]
