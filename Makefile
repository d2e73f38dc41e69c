# Two commands for a newcomer:  make demo  and  make test
# Both create the virtualenv if needed. CI keeps one outside the clone, keyed by a hash of the
# dependency lists (make test VENV_ROOT=~/.cache/latentreel-venvs), and builds it from nothing
# when there is none.

PYTHON ?= python3
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
DEPS_HASH := $(shell (cat pyproject.toml requirements-nodeps.txt; echo $(TORCH_PINS)) | sha256sum | cut -c1-16)
ifdef VENV_ROOT
VENV ?= $(VENV_ROOT)/venv-$(DEPS_HASH)
else
VENV ?= .venv
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.deps-$(DEPS_HASH)

.PHONY: setup demo test bench readme-strip clean

setup: $(STAMP)
	@$(BIN)/pip install -q --no-deps --no-build-isolation -e . >/dev/null

$(STAMP):
	@echo "==> creating $(VENV) (first time only: installs torch and friends)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q $(TORCH_PINS)
	$(BIN)/pip install -q '.[test,ray]'
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

demo: setup
	$(BIN)/latentreel render scenes/demo.yaml
	@echo "==> open out/demo.mp4"

test: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/latentreel bench render --json bench-results/render.json

clean:
	rm -rf out bench-results .pytest_cache
