SHELL := /bin/bash
# Two entry points on a fresh machine with Python 3.11:
#   make book   set up .venv, then build the website into _build/html
#   make test   set up .venv, then run the unit tests and nbval on every notebook
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test setup unit notebooks execute bench data-check clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install --quiet -e ".[book,test]" 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]:-0} -eq 0
	$(BIN)/python -c "import hlmlab, jupyter_book, nbval"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going --all

test: $(STAMP)
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests

notebooks: $(STAMP)
	$(BIN)/python -m pytest book labs

# Re-execute every notebook in place and store its outputs (run after a change
# to hlmlab alters what a cell prints; commit the result).
execute: $(STAMP)
	for nb in book/*.ipynb labs/*.ipynb; do [ -e "$$nb" ] || continue; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=900 "$$nb" || exit 1; done

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python benchmarks/bench_lme.py

data-check: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[data]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python data/build_hsb.py --check

clean:
	rm -rf _build
