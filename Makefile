# Every target installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo lint format run bench eval clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/sequelwatch demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipeline alerts config crawler sequelwatch

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

run: $(STAMP)
	$(BIN)/sequelwatch daemon

# the held-out sets written under the labelling guide, each scored once: pooled, one figure
HELDOUT := $(foreach n,3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23,tests/data/eval/heldout$(n))

eval: $(STAMP)
	$(BIN)/python -m pipeline.evaluate tests/data/eval/dev $(foreach n,23 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2,tests/data/eval/heldout$(n)) tests/data/eval/heldout
	$(BIN)/python -m pipeline.evaluate --pooled $(HELDOUT)

# The site is served by Debian's nginx when it can be installed, else by a Python server.
bench: $(STAMP)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { test "$$(id -u)" = 0 \
		&& command -v apt-get >/dev/null && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; } \
		|| echo "nginx not installed: the bench site is served by Python"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
