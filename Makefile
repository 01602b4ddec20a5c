# Everyday commands. Each creates .venv from requirements-dev.txt on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: help venv demo test release benchmarks clean

help:
	@echo "make demo        build the release, grade reference and starter of every assignment,"
	@echo "                 run every notebook in quick mode, print a summary (build/)"
	@echo "make test        lint (ruff) and the kit's own tests (offline)"
	@echo "make release     the student bundle in build/release"
	@echo "make benchmarks  speed and quality benchmarks (JSON in benchmarks/results/)"

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m grading.demo

# Lint first (ruff.toml), then the tests: one thread per test process, since $(JOBS) processes
# already keep the cores busy.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(JOBS) --timeout 900 tests

release: $(STAMP)
	$(PY) -m grading release build/release

benchmarks: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build .pytest_cache benchmarks/results
