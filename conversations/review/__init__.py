"""Trace review: find, read, judge, redact, export and retain stored reasoning.

- `visibility.py`: who sees which assistant turn (the ONE place; everything else
  builds on `visible_turns`).
- `models.py`: Review (one person's judgement of a trace), ReviewTag, Redaction,
  TraceSignals (a turn's reasoning-aware signals).
- `signals.py`: those signals, computed once when a turn ends (pure `compute`,
  `store` called from conversations/actions.py).
- `filters.py`: the list's and the export's query parameters, full-text search,
  keyset pages.
- `traces.py`: what a trace page and an export line show (context sent upstream,
  reviews), batched per conversation.
- `actions.py`: the writes (rate, redact, purge).
- `export.py`: JSONL and Markdown lines, shared by the view and `export_traces`.
- `views.py`: `/review/`, `/review/<turn>/`, `/review/compare/`, `/review/export.jsonl`.
"""
