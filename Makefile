# Two commands for a fresh clone:  `make demo` (quick profile end to end) and `make test`.
# Each creates/refreshes the local virtualenv .venv by itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The data root: $GSOC_DATA_ROOT if set, else ../shared/data when it exists (offline copies).
GSOC_DATA_ROOT ?= $(abspath $(wildcard ../shared/data))
export GSOC_DATA_ROOT
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint format venv browser clean-notebooks app bundle docs

$(BIN)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,notebooks]"
	touch $@

venv: $(BIN)/.installed

# Headless Chromium + its driver for the web app's browser test (Debian packages; apt-get as root, else sudo).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; \
	fi

test: venv browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (lint + formatting) and mypy, configured in pyproject.toml; `make test` (and so CI) runs it first.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Rewrites files: ruff's formatter and its safe fixes (import order, unused imports, ...); then `make lint`.
format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Unit tests only (no notebook runs, subprocesses or real Inception): under a minute.
test-fast: venv
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

demo: venv
	$(BIN)/python -m gsoc_helpers demo

# The generation panel served by Voilà on http://127.0.0.1:8866/ (Ctrl+C stops).
app: venv
	$(BIN)/python -m gsoc_helpers app

# The executed copies readers see on GitHub (docs/notebooks/): the quick-profile demo, then small readable copies.
# DOCS_SCALE=smoke tries the machinery in seconds (the committed copies are the quick scale; a test checks).
DOCS_RUN ?= outputs/docs-run
DOCS_SCALE ?= quick
docs: venv
	$(BIN)/python -m gsoc_helpers demo --profile quick --scale $(DOCS_SCALE) --out $(DOCS_RUN)
	$(BIN)/python -m gsoc_helpers notebooks --render $(DOCS_RUN)/executed

clean-notebooks: venv
	$(BIN)/python -m gsoc_helpers notebooks --strip

# Rebuild the bundled quick-profile models in data/ (about 3 h 10 min on a quiet 2-core CPU: teacher 150 min, its 20,000 images, student 35 min; see data/*.md).
# Resumable: run it again after an interruption and each step continues (or is skipped when its output exists).
BUNDLE ?= outputs/bundle
bundle: venv
	$(BIN)/python -m gsoc_helpers train-teacher --out $(BUNDLE)/offline_teacher --ngf 64 --ndf 64 \
	  --batch-size 32 --lr-g 2e-4 --lr-d 2e-4 --beta1 0.0 --beta2 0.999 --ema-decay 0.999 --d-steps 1 --class-loss 1.0 \
	  --augment color,translation --precision bf16 --max-minutes 150 --checkpoint-minutes 5 --snapshots \
	  --grid-every 1000 --log-every 50 --threads 1 --seed 0 --resume
	test -f $(BUNDLE)/synthetic_teacher/manifest.json || $(BIN)/python -m gsoc_helpers sample \
	  $(BUNDLE)/offline_teacher/generator_ema.safetensors --name offline-teacher --per-class 2000 --seed 0 \
	  --out $(BUNDLE)/synthetic_teacher
	$(BIN)/python -m gsoc_helpers distill $(BUNDLE)/synthetic_teacher --out $(BUNDLE)/student --ngf 128 --ndf 64 \
	  --batch-size 64 --real-source jpeg --precision bf16 --max-minutes 35 --log-every 10 --sample-every 500 \
	  --ckpt-every 500 --seed 0 --resume
	cp $(BUNDLE)/offline_teacher/generator_ema.safetensors data/offline_teacher.safetensors
	cp $(BUNDLE)/student/student_ema.safetensors data/student.safetensors
	cp $(BUNDLE)/student/metrics.jsonl data/student_metrics.jsonl
