# Two commands do everything on a fresh machine with Python 3.11, 3.12 or 3.13 and make:
#   make book   build the rendered book into _build/html
#   make test   unit tests, doctests, pair sync, nbval over every notebook, book build, and the
#               rendered-book tests in headless Chromium (skipped with a note without Chromium)
# Both first create .venv from requirements/lock.txt (exact tested versions).

# The Python to build .venv with: PYTHON=... if given, else the newest 3.13, 3.12 or 3.11
# on PATH that runs (a pyenv shim for a version that is not active does not).
ifndef PYTHON
PYTHON := $(firstword $(foreach v,3.13 3.12 3.11,$(shell python$(v) -c 'print(1)' >/dev/null 2>&1 && echo python$(v))))
endif
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going
# PyTorch's CPU-only wheels. PyPI's Linux torch is a CUDA build of several GB, so torch is
# installed from here first, at the lock's version; if the index cannot be reached, pip's
# own configuration decides (with a note saying so).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: help check-python venv colab book test unit notebooks-test book-html browser-test notebooks clean book-without-solutions assignments otter

help:
	@echo "make book   - build the rendered book (_build/html/index.html)"
	@echo "make test   - the whole test suite (unit, doctests, pair sync, nbval, book build, browser tests)"
	@echo "make notebooks - re-execute every notebook in place after editing its .md twin"

$(STAMP): requirements/lock.txt pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	@out=$$($(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --retries 0 --timeout 20 \
		--index-url $(TORCH_INDEX) "$$(grep -E '^torch==' requirements/lock.txt)" 2>&1) \
		&& echo "torch: the CPU build, at the lock's version" \
		|| echo "note: torch could not be installed from PyTorch's CPU index ($(TORCH_INDEX)): $$(echo "$$out" | grep -E '^ERROR' | tail -1); it comes from pip's default index instead (on Linux, PyPI's is a CUDA build of several GB)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(STAMP)

# Runs before anything that needs .venv, so an unsupported PYTHON=... is named at once.
check-python:
	@test -n "$(PYTHON)" || { echo "no Python 3.11, 3.12 or 3.13 found on PATH; the book supports those (set PYTHON=/path/to/python3.x)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys' 2>/dev/null || { echo "PYTHON=$(PYTHON) does not run; the book supports Python 3.11, 3.12 and 3.13 (set PYTHON=python3.x)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else "the book supports Python 3.11, 3.12 and 3.13; PYTHON=$(PYTHON) is %d.%d (set PYTHON=python3.x)" % v)'
	@if [ -x $(BIN)/python ]; then want=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
		have=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
		[ "$$want" = "$$have" ] || { echo ".venv was built with Python $$have, not $$want ($(PYTHON)): remove it (rm -rf .venv) to rebuild it" >&2; exit 1; }; fi

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

# Otter-Grader assignments (student notebooks, Gradescope autograders) in _build/assignments/otter/.
otter: $(STAMP)
	$(BIN)/python -m attnlib assignments build _build/assignments --format otter

unit: $(STAMP)
	$(BIN)/python -m pytest tests attnlib --doctest-modules --ignore=tests/browser -p no:cacheprovider -q

# nbval re-executes every chapter and compares its outputs with the stored ones, under
# generic floating-point kernels (another CPU's stand-in; tools/nbval.py says which).
notebooks-test: $(STAMP)
	$(BIN)/python tools/nbval.py

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

# The Colab copies of the chapters (plain Markdown, collapsed solutions), written from notebooks/.
colab: $(STAMP)
	$(BIN)/python tools/colab_notebooks.py

clean:
	rm -rf _build
