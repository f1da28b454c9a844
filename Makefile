# casahub: `make run` starts the demo hub, `make test` runs every test.
# Both bootstrap .venv by themselves on a fresh machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench peers clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/casahub serve --demo $(ARGS)

# Debian test peers (mosquitto, nut-server, chromium...) are installed here when running
# as root; later issues add them to deploy/test-peers.txt.
peers:
	@if [ "$$(id -u)" = "0" ] && [ -s deploy/test-peers.txt ]; then \
		missing=$$(for p in $$(grep -v '^#' deploy/test-peers.txt); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

test: $(STAMP) peers
	$(PY) -m pytest -q $(PYTEST_ARGS)

# lint-imports: the layers (pyproject's [tool.importlinter]: alarms pure, drivers below hub, no cycle).
lint: $(STAMP)
	$(VENV)/bin/ruff check alarms hub drivers tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# BENCH_HA=1 adds the Home Assistant reference (installs it into bench/.venv-ha once, ~2 min);
# BENCH_ARGS="--only latency,storm" or "--quick" for a subset or a smoke run.
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
