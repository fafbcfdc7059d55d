# Torch.nn notebooks. `make run` is the main job, `make test` the test suite; both create
# .venv on first use and reinstall only when requirements.txt or pyproject.toml change.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   := 127.0.0.1

.PHONY: setup run test lint lab tensorboard notebooks bench doctor clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (the first time takes a few minutes)..."
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -e .
	@touch $@

run: setup
	$(PY) -m helpers.runner

test: setup lint
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .

lab: setup
	$(VENV)/bin/jupyter lab --ip=$(HOST) --no-browser --notebook-dir=notebooks

tensorboard: setup
	$(VENV)/bin/tensorboard --logdir runs --host $(HOST)

notebooks: setup
	TORCHNN_DATA=synthetic TORCHNN_FAST=1 $(PY) -m helpers.runner --in-place

clean:
	rm -rf runs/notebooks
