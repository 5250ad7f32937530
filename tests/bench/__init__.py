"""The relay benchmark (`make bench`, `make bench-quick`); never collected by pytest.

`python -m tests.bench.relay --help` for the options; the README of the figures is
the docstring of `tests.bench.relay`.
"""
