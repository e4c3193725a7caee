SHELL := /bin/bash
# Two entry points on a fresh machine with Python 3.11:
#   make book   set up .venv, then build the website into _build/html
#   make test   set up .venv, then run the unit tests and nbval on every notebook
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements-lock.txt
# Wall-clock limits for whole runs; a stuck cell fails long before these (see README).
BOOK_TIMEOUT ?= 2400
TEST_TIMEOUT ?= 2400
# The notebook and cell being executed, for a person who wonders where a run is.
PROGRESS_FILE := $(CURDIR)/_build/executing.txt

.PHONY: book test setup unit notebooks execute lint bench data-check lock stress clean
.PHONY: check-site student

setup: $(STAMP)

# The environment is the lock file, exactly: the versions that made the
# stored outputs. Any failed step stops make.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	$(BIN)/python -c "import hlmlab, jupyter_book, nbval"
	touch $(STAMP)

# Rewrite the lock from the ranges in pyproject.toml (then re-execute the
# notebooks and commit both).
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-lock/bin/python -m pip install --quiet ".[book,test]"
	{ echo "# The exact environment of the book, its tests and Binder: made by 'make lock'"; \
	  echo "# from pyproject.toml. The stored outputs of the notebooks were made with it."; \
	  $(VENV)-lock/bin/python -m pip freeze --exclude-editable | grep -v '^hlmlab'; } > $(LOCK)
	rm -rf $(VENV)-lock

book: $(STAMP)
	@mkdir -p _build
	@set -o pipefail; NBGUARD_PROGRESS_FILE=$(PROGRESS_FILE) \
	  timeout -k 30 $(BOOK_TIMEOUT) $(BIN)/jupyter-book build . -W -n --keep-going --all 2>&1 | tee _build/book.log; \
	  rc=$$?; if [ $$rc -eq 124 ]; then \
	    echo "make book: STOPPED after $(BOOK_TIMEOUT) s while building the book; last started:"; \
	    cat $(PROGRESS_FILE) 2>/dev/null || tail -n 5 _build/book.log; fi; exit $$rc

test: $(STAMP) lint
	@set -o pipefail; timeout -k 30 $(TEST_TIMEOUT) $(BIN)/python -m pytest; \
	  rc=$$?; if [ $$rc -eq 124 ]; then echo "make test: STOPPED after $(TEST_TIMEOUT) s (pytest)"; fi; exit $$rc

unit: $(STAMP)
	$(BIN)/python -m pytest tests

notebooks: $(STAMP)
	$(BIN)/python -m pytest book labs

lint: $(STAMP)
	$(BIN)/ruff check hlmlab tests tools benchmarks
	$(BIN)/ruff format --check hlmlab tests tools benchmarks

# Re-execute every notebook in place and store its outputs (run after a change
# to hlmlab alters what a cell prints; commit the result).
execute: $(STAMP)
	NBGUARD_PROGRESS_FILE=$(PROGRESS_FILE) $(BIN)/python tools/nbguard.py --inplace book/*.ipynb labs/*.ipynb

# Execute every notebook many times and report times and any hang (by hand, not in CI).
stress: $(STAMP)
	$(BIN)/python benchmarks/stress_execute.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_lme.py
	$(BIN)/python benchmarks/bench_refits.py

data-check: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[data]"
	$(BIN)/python data/build_hsb.py --check

# Open every page of the built site (make book first) in headless Chromium,
# network off: fails on JavaScript errors, missing images, raw math, error
# outputs, undrawn widgets, broken links, requests to other hosts, a slow home
# page or a page over 5 MB. Screenshots for a person in _build/screenshots/.
check-site: $(STAMP)
	@command -v chromium >/dev/null || { echo "make check-site: installing Debian's chromium"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/python tools/check_site.py --site _build/html --screenshots _build/screenshots

# Solution-free copies of every chapter and lab in dist/student/, then each
# copy run from top to bottom (two at a time: one per core).
student: $(STAMP)
	rm -rf dist/student
	$(BIN)/python tools/student_copies.py --out dist/student
	find dist/student -name '*.ipynb' | sort | xargs -n 1 -P 2 $(BIN)/python tools/nbguard.py

clean:
	rm -rf _build
