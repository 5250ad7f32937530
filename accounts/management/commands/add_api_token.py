"""`add_api_token --user USER --name NAME [--expires-days N]`: a personal API token for
USER. The secret is printed alone on one line of standard output, the only time it
exists in full; anything else goes to standard error."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tokens import create_token


class Command(BaseCommand):
    help = "Create a personal API token and print its secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The username of the token's owner.")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Days until it expires (default: never)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = " ".join(str(options["name"]).split())
        if not name:
            raise CommandError("--name must not be empty.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["user"]})
        except user_model.DoesNotExist:
            raise CommandError(f"No user {options['user']!r}.") from None
        token, secret = create_token(user, name[:100], days, actor=None, via="add_api_token")
        self.stderr.write(f"Token {token.name!r} for {user.get_username()}: {token.masked}")
        self.stdout.write(secret)
