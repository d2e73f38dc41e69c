# Two commands for a newcomer:  make demo  and  make test
# Both create the virtualenv if needed, from requirements.lock alone (every package pinned and
# hashed; `make lock` regenerates it). CI keeps one outside the clone, keyed by the lock's hash
# (make test VENV_ROOT=~/.cache/latentreel-venvs), and builds it from nothing when there is none.

PYTHON ?= python3
LOCK := requirements.lock
DEPS_HASH := $(shell sha256sum $(LOCK) | cut -c1-16)
ifdef VENV_ROOT
VENV ?= $(VENV_ROOT)/venv-$(DEPS_HASH)
else
VENV ?= .venv
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.deps-$(DEPS_HASH)

.PHONY: setup lock demo test bench readme-strip clean

setup: $(STAMP)
	@$(BIN)/pip install -q --no-deps --no-build-isolation -e . >/dev/null

$(STAMP):
	@echo "==> creating $(VENV) from $(LOCK) (first time only: installs torch and friends)"
	$(PYTHON) -m venv $(VENV)
	@# --no-deps: the lock already lists every package, and resolving it again would trip on
	@# the conflicting pins of the packages taken from requirements-nodeps.txt.
	$(BIN)/pip install -q --no-deps --require-hashes -r $(LOCK)
	@rm -f $(VENV)/.deps-*
	@touch $(STAMP)

# Regenerates requirements.lock from pyproject.toml, requirements.in and requirements-nodeps.txt.
lock:
	PYTHON=$(PYTHON) tools/lock.sh

demo: setup
	$(BIN)/latentreel render scenes/demo.yaml
	@echo "==> open out/demo.mp4"

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/latentreel bench render --json bench-results/render.json

clean:
	rm -rf out bench-results .pytest_cache
