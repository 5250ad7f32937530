"""Apply each team's reasoning retention; safe to run from cron.

For every team with `reasoning_retention_days`, the reasoning of its members'
assistant turns older than that is erased; the answers stay. Prints what it removed
per team; a second run finds nothing. `--dry-run` counts without erasing.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conversations.review.actions import purge


class Command(BaseCommand):
    help = "Erase reasoning older than each team's retention (answers are kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count, erase nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        dry = options["dry_run"]
        results = purge(dry_run=dry)
        if not results:
            self.stdout.write("No team has a reasoning retention; nothing to do.")
        verb = "would erase" if dry else "erased"
        for r in results:
            self.stdout.write(
                f"{r.team} ({r.days} days): {verb} the reasoning of {r.turns} turns "
                f"({r.chars} characters)"
            )
        total = sum(r.turns for r in results)
        self.stdout.write(f"Total: {verb} the reasoning of {total} turns.")
