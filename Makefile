# Torch.nn notebooks. `make run` is the main job, `make test` the test suite; both create
# .venv on first use and reinstall only when requirements.txt or pyproject.toml change.
# Every target is a Python command (`python -m torchnn_tools <target>`, README: Without make),
# so Windows and conda users run the very same code.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2
EDITION ?= en
BOARD_PORT ?= 6006

.DEFAULT_GOAL := help
.PHONY: help setup run test lint lab tensorboard notebooks bench doctor clean book

help: ## this list
	@echo "Torch.nn notebooks: make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Without make: python -m torchnn_tools <target> (README: Without make)."

setup: ## create .venv and install the pinned packages (only when they changed)
	@$(PYTHON) -m torchnn_tools setup

run: setup ## execute every notebook head-less, two at a time, and print a summary table
	$(PY) -m torchnn_tools run --jobs $(JOBS) --edition $(EDITION)

# The tests build the book and look at it in a browser: they need the book's packages too.
test: ## the whole test suite: ruff, unit tests, nbval on every notebook, servers, browser
	@$(PYTHON) -m torchnn_tools setup --book
	$(PY) -m torchnn_tools test $(TEST_ARGS)

lint: setup ## ruff on the code and the notebooks
	$(PY) -m torchnn_tools lint

# `exec`: the server replaces the recipe's shell, so a signal to make stops it (nothing is left
# holding the port). Both listen on 127.0.0.1 only; JupyterLab keeps its token.
lab: setup ## JupyterLab on 127.0.0.1 (opens notebooks/; runs/notebooks/ is reachable too)
	@exec $(PY) -m torchnn_tools lab

tensorboard: setup ## TensorBoard on runs/ (or TORCHNN_RUNS_DIR), on 127.0.0.1:6006
	@exec $(PY) -m torchnn_tools tensorboard --port $(BOARD_PORT)

doctor: ## check the setup, one line each: ok, or problem with the fix
	@test -x $(PY) || { echo "problem  no $(VENV) yet -> run \`make setup\` (or \`make run\`)"; exit 1; }
	@$(PY) -c "import helpers" 2>/dev/null || { echo "problem  $(PY) cannot import helpers:"\
	  "$$($(PY) -c 'import helpers' 2>&1 | tail -n 1) -> run \`make setup\`"; exit 1; }
	@$(PY) -m torchnn_tools doctor

notebooks: setup ## maintainers: re-execute the notebooks in place at full size, rebuild notebooks/zh/
	$(PY) -m torchnn_tools notebooks --jobs $(JOBS)

book: ## the static site of both editions, from the committed notebooks: book/_build/html/
	@$(PYTHON) -m torchnn_tools setup --book
	$(PY) -m torchnn_tools book

bench: setup ## how fast the lessons' training loop runs (writes runs/bench.json)
	$(PY) -m torchnn_tools bench

clean: ## remove the executed copies in runs/notebooks/
	rm -rf runs/notebooks
