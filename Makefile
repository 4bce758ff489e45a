# `make run`: install, build the index from corpus/ and serve the chat on :7860.
# `make test`: install and run the whole test suite (what .ci/run calls).
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 7860

.PHONY: default run install test lint format
default: lint test

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build of 2.13.0 lies on local disk.
	$(PY) -m pip install --quiet 'torch==2.13.0'
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/assistant index build
	$(VENV)/bin/assistant serve --port $(PORT)

test: install
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/ruff format --check assistant tests bench
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/ruff format --check assistant tests bench

format: install
	$(VENV)/bin/ruff format assistant tests bench
	$(VENV)/bin/ruff check --fix assistant tests bench
