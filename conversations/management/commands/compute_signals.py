"""Compute the review signals of ended assistant turns that have none (turns from
before signals existed), or of every ended turn with `--all`. Batches of 500."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from conversations.models import Turn
from conversations.review import signals
from conversations.review.visibility import all_traces


class Command(BaseCommand):
    help = "Compute the trace review signals of ended assistant turns that have none."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--all", action="store_true", help="Recompute every ended turn.")

    def handle(self, *args: Any, **options: Any) -> None:
        turns = all_traces().exclude(status=Turn.Status.STREAMING)
        if not options["all"]:
            turns = turns.filter(signals__isnull=True)
        fields = ("id", "status", "reasoning_content", "content", "timings")
        done, last = 0, None
        while True:
            batch = turns.order_by("id")
            if last is not None:
                batch = batch.filter(id__gt=last)
            rows = list(batch.only(*fields)[:500])
            if not rows:
                break
            with transaction.atomic():
                for turn in rows:
                    signals.store_for(turn)
            done += len(rows)
            last = rows[-1].id
        self.stdout.write(f"Computed the signals of {done} turns.")
