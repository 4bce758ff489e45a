# `make run`: install, build the index from corpus/ and serve the chat on :7860.
# `make test`: install and run the whole test suite (what .ci/run calls).
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 7860

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: default run install browser-deps test lint format
default: lint test

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build of 2.13.0 lies on local disk.
	$(PY) -m pip install --quiet 'torch==2.13.0'
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The browser tests drive Debian's chromium (never a downloaded one); the CJK
# fonts make Chinese render in screenshots instead of empty boxes.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; \
	fi

run: install
	$(VENV)/bin/assistant index build
	$(VENV)/bin/assistant serve --port $(PORT)

test: install browser-deps
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/ruff format --check assistant tests bench
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/ruff format --check assistant tests bench

format: install
	$(VENV)/bin/ruff format assistant tests bench
	$(VENV)/bin/ruff check --fix assistant tests bench
