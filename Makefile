# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make book   build the rendered book into _build/html
#   make test   unit tests, doctests, pair sync, nbval over every notebook, book build
# Both first create .venv from requirements/lock.txt (exact tested versions).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going

.PHONY: help venv book test unit notebooks-test book-html browser-test notebooks clean book-without-solutions assignments

help:
	@echo "make book   - build the rendered book (_build/html/index.html)"
	@echo "make test   - the whole test suite (unit, doctests, pair sync, nbval, book build)"
	@echo "make notebooks - re-execute every notebook in place after editing its .md twin"

$(STAMP): requirements/lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "need Python 3.11, found %d.%d (set PYTHON=...)" % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(STAMP)

book: $(STAMP) book-html
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

book-html:
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# The same book with every solution removed (for instructors), in _build/no-solutions/.
book-without-solutions: $(STAMP)
	BOOK_HIDE_SOLUTIONS=1 $(BIN)/jupyter-book build . $(JB_FLAGS) --path-output _build/no-solutions
	@echo "Open: file://$(CURDIR)/_build/no-solutions/_build/html/index.html"

# Student notebooks (solutions stripped, stubs that raise NotImplementedError) and instructor ones.
assignments: $(STAMP)
	$(BIN)/python -m attnlib assignments build _build/assignments

unit: $(STAMP)
	$(BIN)/python -m pytest tests attnlib --doctest-modules --ignore=tests/browser -p no:cacheprovider -q

notebooks-test: $(STAMP)
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -q -p no:cacheprovider

# The rendered book in headless Chromium (skipped with a note when Chromium is missing,
# a failure when ATTNLIB_REQUIRE_BROWSER=1, as in CI). Screenshots: _build/screenshots/.
browser-test: $(STAMP)
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider -q

test: $(STAMP)
	$(MAKE) unit
	$(MAKE) notebooks-test
	$(MAKE) book-html
	$(MAKE) browser-test

# After editing a chapter (either twin): sync the pair, execute from a clean kernel, store outputs.
# make notebooks NB=notebooks/01_cross_entropy.ipynb runs one chapter only.
notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py $(NB)

clean:
	rm -rf _build
