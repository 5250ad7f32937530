# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install test-deps run test test-all lint format typecheck migrations-check deploy-check bench bench-quick bench-baseline bench-page bench-review fake-upstream ci clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	touch $@

# The sign-in tests' OpenID provider (node-oidc-provider), from its lockfile.
tests/oidc_provider/node_modules/.package-lock.json: tests/oidc_provider/package-lock.json
	npm ci --prefix tests/oidc_provider --no-audit --no-fund

install: $(VENV)/.installed

# What the suite needs beyond Python (Node.js and npm): `make run` does not.
test-deps: tests/oidc_provider/node_modules/.package-lock.json

# SQLite, the in-memory channel layer and the offline demo model: chat at once.
run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	@echo ""
	@echo "  Open http://$(HOST):$(PORT)/ (the first visit creates the admin account)."
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite (unit, socket, multi-process, browser); never the benchmark. `-rs`: each
# skipped group says in the summary what it needs (Redis, Chromium, ...).
test: install test-deps
	mkdir -p var
	$(VENV)/bin/pytest -rs

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install
	$(VENV)/bin/mypy .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

# Production settings must pass Django's deployment checks.
deploy-check: install
	DEBUG=0 SECRET_KEY=ci-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	FIELD_ENCRYPTION_KEY=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	ALLOWED_HOSTS=chat.example.com CSRF_TRUSTED_ORIGINS=https://chat.example.com \
	$(PY) manage.py check --deploy --fail-level WARNING

# A person's turn first (new chat, socket, message; SQLite and PostgreSQL + Redis), then
# the relay's limits, the chat page, the trace review and the API (tests/bench/README.md).
bench: install
	$(PY) -m tests.bench.person
	$(PY) -m tests.bench.relay
	$(PY) -m tests.bench.chatpage
	$(PY) -m tests.bench.review
	$(PY) -m tests.bench.api

# The chat page in Chromium alone (tests/bench/README.md); ARGS=--quick: under a minute.
bench-page: install
	$(PY) -m tests.bench.chatpage $(ARGS)

# The trace review on 100,000 turns in PostgreSQL (tests/bench/README.md); seeds its own
# database once (~25 min), then ~5 min a run; ARGS=--quick: 5,000 turns.
bench-review: install
	$(PY) -m tests.bench.review $(ARGS)

# A person's turn, short (about two minutes), each figure beside the saved baseline's:
# run it before and after a change on the turn path.
bench-quick: install
	$(PY) -m tests.bench.person --quick --compare tests/bench/baseline.json

# Save this machine's figures as the baseline bench-quick compares with.
bench-baseline: install
	$(PY) -m tests.bench.person --quick --save-baseline tests/bench/baseline.json

# The scripted fake upstream as a dev server: try every provider style locally.
fake-upstream: install
	$(PY) -m providers.fake_upstream --port 8001 --rate 30

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache tests/oidc_provider/node_modules
