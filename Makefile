# Torch.nn notebooks. `make run` is the main job, `make test` the test suite; both create
# .venv on first use and reinstall only when requirements.txt or pyproject.toml change.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   := 127.0.0.1
RUNS   := $(or $(TORCHNN_RUNS_DIR),runs)

.PHONY: setup run test lint lab tensorboard notebooks bench doctor clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (the first time takes a few minutes)..."
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -e .
	@touch $@

# Notebooks executed at once (each waits on imports much of its time; measured on 2 cores:
# 88 s one at a time, about 50 s two at a time in CI settings).
JOBS ?= 2
run: setup
	$(PY) -m helpers.runner --jobs $(JOBS)

# Two pytest-xdist workers, each notebook whole on one of them (--dist loadscope; the root
# conftest makes the tests that read the notebooks' runs wait for them). Measured on 2 cores:
# about 10% faster than one process. `make test XDIST=` runs everything in one process.
XDIST ?= -n 2 --dist loadscope
test: setup lint
	$(PY) -m pytest $(XDIST)

lint: setup
	$(PY) -m ruff check .

# Both listen on 127.0.0.1 only; JupyterLab keeps its token (printed with the address).
# From another machine, use an SSH tunnel (README: Looking at the results).
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.ip=$(HOST) --no-browser --ServerApp.root_dir=notebooks

tensorboard: setup
	$(VENV)/bin/tensorboard --logdir "$(RUNS)" --host $(HOST) --port 6006

# What to run first when something is off: versions, device, data/, runs/, the lab's kernel.
doctor:
	@test -x $(PY) || { echo "problem  no $(VENV) yet -> run \`make setup\` (or \`make run\`)"; exit 1; }
	@$(PY) -c "import helpers" 2>/dev/null || { echo "problem  $(PY) cannot import helpers:"\
	  "$$($(PY) -c 'import helpers' 2>&1 | tail -n 1) -> run \`make setup\`"; exit 1; }
	@$(PY) -m helpers.doctor

notebooks: setup
	TORCHNN_DATA=synthetic TORCHNN_FAST=1 $(PY) -m helpers.runner --in-place --jobs $(JOBS)

# Training speed: the source's loop, the lessons' loop and the ceiling; writes runs/bench.json.
bench: setup
	$(PY) -m benchmarks.bench

clean:
	rm -rf runs/notebooks
