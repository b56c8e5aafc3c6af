"""``undersigned token create USERNAME [--letter SLUG] --scope read|write [--expires-days N]
[--label L]``: an API token for a script that acts for an organizer; ``token list``;
``token revoke PREFIX``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from undersigned.accounts import factors, tokens
from undersigned.accounts.models import ApiToken
from undersigned.letters.models import Letter, Organizer


class Command(BaseCommand):
    help = (
        "Manage organizers' API tokens (for /api/v1/organize/). A token is printed once; the "
        "database keeps only a keyed hash of it."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")
        create = sub.add_parser("create", help="Make a token for USERNAME and print it once.")
        create.add_argument("username", metavar="USERNAME")
        create.add_argument("--letter", metavar="SLUG", help="Only this letter (else all theirs).")
        create.add_argument("--scope", required=True, choices=["read", "write"])
        create.add_argument("--expires-days", type=int, metavar="N", help="Expire after N days.")
        create.add_argument("--label", default="", help="What will use it (100 characters).")
        sub.add_parser("list", help="List tokens: prefix, user, letter, scope, expiry, state.")
        revoke = sub.add_parser("revoke", help="Revoke the token that starts with PREFIX.")
        revoke.add_argument("prefix", metavar="PREFIX")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, username, letter, scope, expires_days, label, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active user {username!r}.")
        if settings.REQUIRE_SECOND_FACTOR and not factors.has_factor(user):
            raise CommandError(
                f"{username} has no second factor yet, and this site requires one: a token "
                "would act for them without it. They set one up when they next log in "
                "(/accounts/two-factor/); then make the token."
            )
        found = None
        if letter is not None:
            found = Letter.objects.filter(slug=letter).first()
            if found is None:
                raise CommandError(f"There is no letter {letter!r}; see `undersigned letter list`.")
            if not Organizer.objects.filter(letter=found, user=user).exists():
                raise CommandError(f"{username} does not organize {letter!r}.")
        if expires_days is not None and not 1 <= expires_days <= 3660:
            raise CommandError("--expires-days must be between 1 and 3660.")
        if len(label) > 100:
            raise CommandError("--label is longer than 100 characters.")
        _, plain = tokens.create(
            user,
            scope=scope,
            letter=found,
            label=label,
            expires_days=expires_days,
            via="command",
        )
        self.stdout.write(plain)

    def _list(self, **options):
        for token in ApiToken.objects.select_related("user", "letter").order_by("id"):
            state = (
                "revoked"
                if token.revoked_at
                else "expires "
                + (token.expires_at.date().isoformat() if token.expires_at else "never")
            )
            letter = token.letter.slug if token.letter else "(all letters)"
            self.stdout.write(f"{token.prefix}\t{token.user}\t{letter}\t{token.scope}\t{state}")

    def _revoke(self, prefix, **options):
        token = ApiToken.objects.filter(prefix=prefix[: tokens.PREFIX_LENGTH]).first()
        if token is None:
            raise CommandError(f"No token starts with {prefix!r}; see `undersigned token list`.")
        tokens.revoke(token, via="command")
        self.stdout.write(f"Revoked {token.prefix}.")
