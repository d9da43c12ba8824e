# Two commands a newcomer needs: `make book` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Notebooks run in quick mode (small subsets, one or two epochs) under make.
export IMGEN_QUICK ?= 1

.PHONY: help venv test lint check-notebooks pytest book clean-book clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: $(STAMP)  ## Create .venv and install imgen with its book and test extras

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "imgen needs Python 3.10 or newer, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,test]'
	touch $(STAMP)

test: lint check-notebooks pytest  ## Lint, check notebooks carry no outputs, run pytest + nbval

lint: $(STAMP)  ## ruff over the package, tests and tools
	$(BIN)/ruff check imgen tests tools benchmarks

check-notebooks: $(STAMP)  ## Fail if a notebook is stored with outputs
	$(BIN)/python tools/check_notebooks.py notebooks

pytest: $(STAMP)  ## Unit and integration tests, then every notebook top to bottom (nbval)
	$(BIN)/python -m pytest --nbval-lax --durations=15 $(PYTEST_ARGS)

book: $(STAMP)  ## Build the Jupyter Book into _build/html, executing every notebook
	$(BIN)/jupyter-book build --all -W --keep-going .
	@echo "Open _build/html/index.html"

clean-book:  ## Remove the built book
	rm -rf _build

clean: clean-book  ## Remove the built book and the virtual environment
	rm -rf $(VENV)
