# Every target installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo lint format run bench eval cv model clean

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

# The labelled sets the topic's model learned from (python -m pipeline.train), and the
# held-out sets it never saw: the figures to hold against the issue's targets.
EVAL := tests/data/eval
TRAIN := $(EVAL)/dev $(EVAL)/heldout $(EVAL)/heldout2 $(foreach n,3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21,$(EVAL)/heldout$(n))
UNSEEN := $(foreach n,22 23 24 25,$(EVAL)/heldout$(n))

eval: $(STAMP)
	$(BIN)/python -m pipeline.evaluate $(UNSEEN)
	$(BIN)/python -m pipeline.evaluate --pooled $(UNSEEN)
	$(BIN)/python -m pipeline.evaluate --rules --pooled $(UNSEEN)
	$(BIN)/python -m pipeline.evaluate --rules $(TRAIN)

# the model cross-validated on the sets it learns from (each annotator's batch left out in
# turn; about 3 minutes), and learned anew from them
cv: $(STAMP)
	$(BIN)/python -m pipeline.train --cv $(TRAIN)

model: $(STAMP)
	$(BIN)/python -m pipeline.train --out config/topics/alita-battle-angel-2.model.json $(TRAIN)

# The site is served by Debian's nginx when it can be installed, else by a Python server.
bench: $(STAMP)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { test "$$(id -u)" = 0 \
		&& command -v apt-get >/dev/null && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; } \
		|| echo "nginx not installed: the bench site is served by Python"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
