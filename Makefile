# tickerbeat's front door. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-stamp
Q      ?= control
PORT   ?= 8765

.DEFAULT_GOAL := help
.PHONY: help install demo run test test-fast lint format migrate sandbox validate-plan worker beat bench clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tickerbeat needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,postgres]'
	@touch $@

install: $(STAMP)  ## create .venv with everything the project needs (a redis-server included)

demo: install  ## one full trading day for 6,500 symbols against the offline sandbox (reports/)
	$(PY) -m stack.demo

run: install  ## the long-running stack as local processes: a worker per queue and beat (Ctrl-C stops)
	$(PY) -m stack.run

test: install  ## the whole suite (starts its own Redis; PostgreSQL when TEST_DATABASE_URL is set)
	$(PY) -m pytest

test-fast: install  ## the suite without the slow tests
	$(PY) -m pytest -m "not slow"

lint: install  ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install  ## bring the database (DATABASE_URL) to the newest schema
	$(PY) -m storage migrate

sandbox: install  ## the offline provider sandbox on PORT (default 8765), free-tier limits
	$(PY) -m sandbox --port $(PORT) --profile free

validate-plan: install  ## print the day's capacity plan; fails when the schedule cannot fit the quotas
	$(PY) -m stack.plan

worker: install  ## one worker for queue Q (e.g. make worker Q=finnhub), concurrency from worker/queues.py
	$(PY) -m stack.run --worker $(Q)

beat: install  ## RedBeat (one active beat; a second one waits as a standby)
	$(PY) -m celery -A worker beat -S redbeat.RedBeatScheduler -l INFO

bench: install  ## the benchmarks under bench/ (figures go to docs/benchmarks.md)
	$(PY) bench/limiter.py
	$(PY) bench/sandbox.py
	$(PY) bench/day.py

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
