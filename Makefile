# Reading Room — the three commands a reader needs.
#   make book   build the HTML book (every chapter executed) into _build/html
#   make test   unit tests + every chapter executed under nbval, in parallel over the cores
#   make lint   ruff over src/, kernels/, tests/ and benchmarks/
#   make serve  serve the built book on http://localhost:$(PORT)
# Each target installs what it needs into .venv first (only python3 is required).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
PYTEST_ARGS ?=
# Tests and chapters run in parallel: JOBS pytest-xdist workers (auto: one per core), each
# computing with one CPU thread (readingroom.common.threads). JOBS=0 runs everything in one process.
JOBS   ?= auto
XDIST  := -n $(JOBS) --dist loadgroup --no-loadscope-reorder

export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install book test unit chapters lint check-html serve lab bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## The book: chapters are executed through the Jupyter cache (_build/.jupyter_cache); chapters
## that `make test` already executed unchanged are taken from the cache, not run twice.
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html  (or: make serve)"

## All tests: every chapter in _toc.yml under nbval (slowest first) and the unit tests of src/
## and kernels/, spread over JOBS workers.
test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m 'not rendered and not chapter' $(PYTEST_ARGS)

chapters: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m chapter $(PYTEST_ARGS)

## Lint: ruff with the configuration in pyproject.toml (pyflakes, syntax and whitespace errors).
lint: $(STAMP)
	$(BIN)/ruff check src kernels tests benchmarks

## The built book as a reader sees it: every page in headless Chromium (needs `make book` first
## and Debian's chromium; .ci/run installs it).
check-html: $(STAMP)
	$(BIN)/python -m pytest -m rendered $(PYTEST_ARGS)

serve: $(STAMP)
	@test -f _build/html/index.html || $(MAKE) book
	@echo "Serving the book on http://localhost:$(PORT)/  (Ctrl-C to stop)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

## JupyterLab for reading and running chapters (installed on first use; not needed by the tests).
lab: $(STAMP)
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install --quiet "jupyterlab==4.6.6"
	$(BIN)/jupyter lab book/

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _build
