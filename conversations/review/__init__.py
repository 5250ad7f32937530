"""Trace review: find, read, judge, redact, export and retain stored reasoning.

- `visibility.py`: who sees which assistant turn (the ONE place; everything else
  builds on `visible_turns`).
- `models.py`: Review (one person's judgement of a trace), ReviewTag, Redaction,
  TraceSignals (a turn's reasoning-aware signals).
- `signals.py`: those signals, computed once when a turn ends (pure `compute`,
  `store` called from conversations/actions.py).
- `filters.py`: the list's and the export's query parameters, full-text search,
  keyset pages.
- `sorting.py`: the list's orders (`sort=`) and their keyset walks, both ways.
- `queue.py`: the review queue (the list's set, one trace at a time): progress,
  next to do, previous and next.
- `plain.py`: the list's plain-text previews (Markdown stripped).
- `traces.py`: what a trace page and an export line show (context sent upstream,
  reviews, references), batched per conversation.
- `actions.py`: the writes (rate, purge).
- `redaction.py`: where a passage occurs (the confirmation) and its removal from
  the reasoning, the answer, the person's message or the title;
  `redaction_view.py`: `/review/<turn>/redact/`, confirmation then write.
- `export.py`: JSONL and Markdown lines, shared by the view and `export_traces`.
- `views.py`: `/review/`, `/review/<turn>/`, `/review/compare/`, `/review/queue/`,
  `/review/export.jsonl`.
- `charts.py` (numbers, two aggregate queries), `charts_draw.py` (plain SVG shapes),
  `charts_view.py`: `/review/charts/`, charts per model over the list's filters.
"""
