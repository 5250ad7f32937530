"""Entry point for `python -m providers.fake_upstream` (see `cli`)."""

from providers.fake_upstream.cli import main

main()
