# Undersigned: `make run` and `make test` do everything. See README.md.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# Byte-compile the dependencies at install, as a deployment would: where Python may not write
# its caches (PYTHONDONTWRITEBYTECODE), every command would compile Django again (0.6 s).
export UV_COMPILE_BYTECODE := 1
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv/bin
DATA_DIR ?= var
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast test-sqlite test-postgres lint bench clean

install: .venv/.installed

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet 'uv>=0.13,<0.14'

.venv/.installed: pyproject.toml uv.lock $(if $(findstring .tools,$(UV)),.tools/bin/uv)
	$(UV) sync --locked --quiet
	touch $@

$(DATA_DIR)/secret_key:
	mkdir -p $(DATA_DIR)
	umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

run: install $(DATA_DIR)/secret_key
	@export UNDERSIGNED_DATA_DIR=$(DATA_DIR) UNDERSIGNED_SECRET_KEY_FILE=$(DATA_DIR)/secret_key \
	  UNDERSIGNED_BASE_URL=$${UNDERSIGNED_BASE_URL:-http://$(HOST):$(PORT)}; \
	$(VENV)/undersigned migrate --no-input -v 0 && \
	$(VENV)/undersigned demo && \
	{ $(VENV)/undersigned worker & worker=$$!; \
	  trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(VENV)/undersigned serve --host $(HOST) --port $(PORT); }

test: install
	scripts/system-deps
	scripts/test-all

# While you work: SQLite, no browser, fault or generated-input tests (under a minute).
test-fast: install
	env -u DATABASE_URL $(VENV)/pytest -q -m "not slow" -p no:cacheprovider

test-sqlite: install
	scripts/system-deps
	env -u DATABASE_URL $(VENV)/pytest

test-postgres: install
	scripts/system-deps
	scripts/with-postgres $(VENV)/pytest

lint: install
	$(VENV)/ruff check undersigned tests bench
	$(VENV)/ruff format --check undersigned tests bench
	$(VENV)/mypy undersigned

bench: install
	$(VENV)/python bench/run.py

clean:
	rm -rf .venv .tools $(DATA_DIR)/static
