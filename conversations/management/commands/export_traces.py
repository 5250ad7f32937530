"""Write traces to standard output, as `GET /review/export.jsonl` does (same code).

Run by an operator: every assistant turn, narrowed by the options; errors keep their
technical detail. An unknown user or team is an error (exit non-zero), so a typo
cannot pass for "no traces".
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.teams import Team
from conversations.review import export
from conversations.review.filters import BadFilter, TraceFilters
from conversations.review.visibility import all_traces


class Command(BaseCommand):
    help = "Export assistant turns with their context, reasoning, answer and reviews."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="a username")
        parser.add_argument("--team", help="a team name")
        parser.add_argument("--model", help="a model reference, provider/model id")
        parser.add_argument("--since", help="an ISO date (inclusive)")
        parser.add_argument("--format", choices=["jsonl", "markdown"], default="jsonl")

    def handle(self, *args: Any, **options: Any) -> None:
        if (
            options["user"]
            and not get_user_model().objects.filter(username=options["user"]).exists()
        ):
            raise CommandError(f"No user named {options['user']!r}.")
        if options["team"] and not Team.objects.filter(name=options["team"]).exists():
            raise CommandError(f"No team named {options['team']!r}.")
        params = {k: options[k] for k in ("user", "team", "model", "since") if options[k]}
        try:
            filters = TraceFilters.from_params(params)
        except BadFilter as exc:
            raise CommandError(str(exc)) from None
        lines = export.markdown_lines if options["format"] == "markdown" else export.jsonl_lines
        for line in lines(filters.apply(all_traces()), staff=True):
            self.stdout.write(line, ending="")
