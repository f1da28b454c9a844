# casahub: `make run` starts the demo hub, `make test` runs every test.
# Both bootstrap .venv by themselves on a fresh machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The lock files (`make lock` writes them from pyproject.toml): exact versions with their
# hashes, the same on a laptop, in CI and on the Pi (deploy/install.sh installs runtime.txt).
LOCK_RUNTIME := requirements/runtime.txt
LOCK_DEV := requirements/dev.txt
# One stamp per set, newer than its lock: a changed lock (git pull) re-installs on the next run.
STAMP_RUNTIME := $(VENV)/.installed-runtime
STAMP_DEV := $(VENV)/.installed-dev
PIP := $(PY) -m pip --disable-pip-version-check
UV_COMPILE := $(VENV)/bin/uv pip compile --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

.PHONY: run test lint bench peers lock clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# casahub itself goes in editable, without its dependencies (the lock has them all) and
# without build isolation (setuptools comes from the lock too, requirements/build.in).
$(STAMP_RUNTIME): pyproject.toml $(LOCK_RUNTIME) | $(PY)
	$(PIP) install --quiet --require-hashes -r $(LOCK_RUNTIME)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# dev.txt holds the runtime set too (compiled against runtime.txt): it satisfies both stamps.
$(STAMP_DEV): pyproject.toml $(LOCK_RUNTIME) $(LOCK_DEV) | $(PY)
	$(PIP) install --quiet --require-hashes -r $(LOCK_DEV)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	@touch $@ $(STAMP_RUNTIME)

run: $(STAMP_RUNTIME)
	$(VENV)/bin/casahub serve --demo $(ARGS)

# Rewrites requirements/*.txt from pyproject.toml (and requirements/build.in), keeping every
# pin that still fits; `make lock UPGRADE=1` moves everything to the newest allowed release.
# One universal resolution for every Linux machine (pyproject's [tool.uv] environments) with
# the hashes of every file of each release: x86_64, aarch64 (the Pi) and the sdists.
lock: $(STAMP_DEV)
	$(UV_COMPILE) -o $(LOCK_RUNTIME) pyproject.toml requirements/build.in
	$(UV_COMPILE) -o $(LOCK_DEV) --extra dev -c $(LOCK_RUNTIME) pyproject.toml requirements/build.in

# Debian test peers (mosquitto, nut-server, chromium...) are installed here when running
# as root; later issues add them to deploy/test-peers.txt.
peers:
	@if [ "$$(id -u)" = "0" ] && [ -s deploy/test-peers.txt ]; then \
		missing=$$(for p in $$(grep -v '^#' deploy/test-peers.txt); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

test: $(STAMP_DEV) peers
	$(PY) -m pytest -q $(PYTEST_ARGS)

# lint-imports: the layers (pyproject's [tool.importlinter]: alarms pure, drivers below hub, no cycle).
lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check alarms hub drivers tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# BENCH_HA=1 adds the Home Assistant reference (installs it into bench/.venv-ha once, ~2 min);
# BENCH_ARGS="--only latency,storm" or "--quick" for a subset or a smoke run.
bench: $(STAMP_DEV)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
