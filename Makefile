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
	@echo "make test        the kit's own tests (offline)"
	@echo "make release     the student bundle in build/release"
	@echo "make benchmarks  speed and quality benchmarks (JSON in benchmarks/results/)"

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m grading.demo

# One thread per test process: $(JOBS) processes already keep the cores busy.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(JOBS) --timeout 900 tests

release: $(STAMP)
	$(PY) -m grading release build/release

benchmarks: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build .pytest_cache benchmarks/results
