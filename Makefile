# Two commands a newcomer needs: `make book` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Notebooks run in quick mode (small subsets, one or two epochs) under make.
export IMGEN_QUICK ?= 1

.PHONY: help venv test lint check-notebooks pytest book clean-book clean
.PHONY: publish lint-workflows
.PHONY: first-run student student-notebooks student-check

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: $(STAMP)  ## Create .venv and install imgen with its book and test extras

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "imgen needs Python 3.10 or newer, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,test]'
	touch $(STAMP)

test: lint check-notebooks student pytest first-run  ## Lint, check notebooks carry no outputs, build the student edition (no solution may leak), run pytest + nbval, then the first run

lint: $(STAMP) lint-workflows  ## ruff over the package, tests and tools; lint-workflows
	$(BIN)/ruff check imgen tests tools benchmarks

lint-workflows: $(STAMP)  ## Check .github/workflows offline: zizmor (security, structure) + GitHub's schema
	$(BIN)/zizmor --offline --strict-collection --no-progress --quiet .github/workflows
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

check-notebooks: $(STAMP)  ## Fail if a notebook is stored with outputs
	$(BIN)/python tools/check_notebooks.py notebooks

pytest: $(STAMP)  ## Unit and integration tests, then every notebook top to bottom (nbval)
	$(BIN)/python -m pytest --nbval-lax --durations=15 $(PYTEST_ARGS)

# A learner's first run, from nothing: a fresh venv (not .venv) whose notebooks' setup cell installs
# imgen from a git tag of the committed HEAD, an empty data folder filled by downloads from a
# loopback mirror of shared/data, every chapter once, every fetched set loaded again (nothing fetched twice), then offline.
# The script runs in .venv (its mirror reads the download sources from imgen.data); the learner's
# venv it creates holds only a notebook runner until the setup cells install imgen.
first-run: $(STAMP)  ## Every chapter from a fresh venv and an empty data folder, downloads from a local mirror (tools/first_run.py)
	$(BIN)/python tools/first_run.py $(FIRST_RUN_ARGS)

# `make book` runs with _config.yml but `execute_notebooks: force` and a cache folder of its own:
# every notebook runs, and quick-mode outputs never reach the published book's execution cache.
QUICK_CONFIG := _build/_config.quick.yml
$(QUICK_CONFIG): _config.yml | $(STAMP)
	@mkdir -p $(@D)
	$(BIN)/python -c 'import os, sys, yaml; c = yaml.safe_load(open(sys.argv[1])); c.setdefault("execute", {}).update(execute_notebooks="force", cache="_build/.jupyter_cache-quick"); ext = c["sphinx"].get("local_extensions", {}); ext.update({k: os.path.abspath(v) for k, v in ext.items()}); yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)' $< $@

book: $(STAMP) $(QUICK_CONFIG)  ## Build the Jupyter Book into _build/html, executing every notebook (quick mode)
	$(BIN)/jupyter-book build --all -W --keep-going --config $(QUICK_CONFIG) .
	@echo "Open _build/html/index.html"

# The published book: full mode (IMGEN_QUICK=0) with Jupyter Book's execution cache
# (`execute_notebooks: cache` in _config.yml). A chapter runs again only when its code changed;
# the cache is emptied first when the package changed (imgen/, pyproject.toml), since every
# chapter's outputs depend on it. --all re-reads every page, so nothing left by `make book`
# (quick mode, same _build/html) survives.
EXEC_CACHE := _build/.jupyter_cache
publish: $(STAMP)  ## Build the published book (full mode) into _build/html; unchanged chapters come from the execution cache
	@fingerprint=$$(find imgen pyproject.toml -type f ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); \
	if [ -d $(EXEC_CACHE) ] && [ "$$(cat $(EXEC_CACHE)/imgen-fingerprint 2>/dev/null)" != "$$fingerprint" ]; then \
		echo "imgen/ or pyproject.toml changed since the execution cache was filled: emptying $(EXEC_CACHE)"; \
		rm -rf $(EXEC_CACHE); \
	fi; \
	mkdir -p $(EXEC_CACHE) && echo "$$fingerprint" > $(EXEC_CACHE)/imgen-fingerprint
	IMGEN_QUICK=0 $(BIN)/jupyter-book build --all -W --keep-going .
	@echo "Open _build/html/index.html (full mode; CI deploys it to https://imgen-course.github.io/imgen/)"

# The student edition (tools/student.py): notebooks whose solutions are nbgrader stubs, in
# _build/student/notebooks (hand these out), and a book of them without solutions, built without
# running anything into _build/student/_build/html. tests/test_student.py runs them.
STUDENT := _build/student
student-notebooks: $(STAMP)  ## Write the student notebooks into _build/student/notebooks (solutions stubbed, no leaks)
	$(BIN)/python tools/student.py notebooks/*.ipynb --out $(STUDENT)

# Every student notebook run for real (quick mode): no error but NotImplementedError in a stub
# cell. `make test` proves the same more cheaply (tests/test_student.py): this runs the chapters.
student-check: $(STAMP)  ## Run every student notebook (quick mode): only stub cells may fail, with NotImplementedError
	IMGEN_STUDENT_RUN=1 $(BIN)/python -m pytest tests/test_student.py -k runs_up_to_its_stubs

student: student-notebooks  ## The student edition: notebooks, and a book without solutions in _build/student/_build/html
	$(BIN)/jupyter-book build --all -W --keep-going $(STUDENT)
	$(BIN)/python tools/student.py notebooks/*.ipynb --check-book $(STUDENT)/_build/html
	@echo "Hand out $(STUDENT)/notebooks; open $(STUDENT)/_build/html/index.html"

clean-book:  ## Remove the built book
	rm -rf _build

clean: clean-book  ## Remove the built book and the virtual environment
	rm -rf $(VENV)
