# tickerbeat's front door. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-stamp
Q      ?= control
PORT   ?= 8765
LOG_DIR ?= var/logs
LOG_KEEP_DAYS ?= 7
METRICS_ADDR ?= 127.0.0.1
# `make test` runs this many pytest processes (by file: a file's tests share one process and its fixtures)
TEST_JOBS ?= 2
# `make inspect` waits this many seconds for the workers' replies
INSPECT_TIMEOUT ?= 5
# docker compose v2, else the v1 docker-compose binary; empty when neither is installed (expanded on use)
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || \
            (command -v docker-compose >/dev/null 2>&1 && echo docker-compose))

.DEFAULT_GOAL := help
.PHONY: help install demo run test test-fast lint format migrate sandbox validate validate-plan worker beat \
        flower metrics inspect status ops quotas plan pause resume dead-letters up down logs backup restore \
        clean-logs bench clean compose-ready

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
	$(PY) -m stack.run --logs $(LOG_DIR)

test: install  ## the whole suite on TEST_JOBS processes (starts its own Redis; PostgreSQL when TEST_DATABASE_URL is set)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile

test-fast: install  ## the suite without the slow tests
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile -m "not slow"

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

validate: install  ## the seed's checks: rate-limit compliance, sample stocks, a small whole pipeline
	$(PY) -m stack.validate

validate-plan: install  ## print the day's capacity plan; fails when the schedule cannot fit the quotas
	$(PY) -m stack.plan

worker: install  ## one worker for queue Q (e.g. make worker Q=finnhub), concurrency from runtime/queues.py
	$(PY) -m stack.run --worker $(Q)

beat: install  ## RedBeat (one active beat; a second one waits as a standby); scheduler from worker/app.py
	$(PY) -m celery -A worker beat -l INFO

flower: install  ## Flower on 127.0.0.1:5555, basic auth from FLOWER_BASIC_AUTH, state in var/flower.db.{dat,dir,bak}
	$(PY) -m stack.flower --address 127.0.0.1 --port 5555 --db var/flower.db

metrics: install  ## the Prometheus exporter on METRICS_ADDR:9102 (default 127.0.0.1)
	$(PY) -m monitoring --port 9102 --addr $(METRICS_ADDR)

inspect: install  ## quotas and lines from Redis (no worker needed), then what the workers that reply are doing
	$(PY) -m stack.ops quotas
	$(PY) -m stack.ops workers --timeout $(INSPECT_TIMEOUT)

status: install  ## one line on the first start (history, tiers, model, next entry), then each provider's pacing
	$(PY) -m stack.status

ops: install  ## an operator's command, no worker needed: make ops ARGS="pauses" (python -m stack.ops --help)
	$(PY) -m stack.ops $(ARGS)

quotas: install  ## each provider's quota windows, block, waits and dispatcher line, read from Redis
	$(PY) -m stack.ops quotas

plan: install  ## the day's runs, ledgers and planner decisions from Redis (DAY=YYYY-MM-DD, default today)
	$(PY) -m stack.ops plan $(if $(DAY),--day "$(DAY)")

pause: install  ## stop every worker calling a provider until make resume: make pause P=polygon [REASON=...]
	$(PY) -m stack.ops pause "$(P)" $(if $(REASON),--reason "$(REASON)")

resume: install  ## lift a provider's pause (or throttle block): make resume P=polygon
	$(PY) -m stack.ops resume "$(P)"

dead-letters: install  ## messages given up after too many deliveries: make dead-letters [SHOW=ID | REPLAY=ID]
	$(PY) -m stack.ops dead-letters $(if $(SHOW),show "$(SHOW)")$(if $(REPLAY),replay "$(REPLAY)")

compose-ready:  ## check that Docker Compose and a Docker engine are usable (up, down and logs do first)
	@test -n "$(COMPOSE)" || { echo "make: Docker Compose is not installed (neither 'docker compose' nor 'docker-compose'); see docs/operations.md" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make: cannot reach a Docker engine (is the daemon running? 'docker info' says why)" >&2; exit 1; }

up: compose-ready  ## the production-like stack with docker compose (needs .env: cp .env.example .env)
	@test -f .env || { echo "make up: no .env file: cp .env.example .env, then set its secrets" >&2; exit 1; }
	$(COMPOSE) up -d --build

down: compose-ready  ## stop the compose stack (volumes are kept)
	$(COMPOSE) down

logs: compose-ready  ## follow the compose stack's logs (S=<service> for one)
	$(COMPOSE) logs -f --tail=200 $(S)

backup: install  ## a consistent copy of DATABASE_URL into var/backups (the newest 7 kept)
	$(PY) -m storage backup --keep 7

restore: install  ## replace DATABASE_URL with a backup: make restore FILE=var/backups/tickerbeat-<stamp>.sqlite3
	@test -n "$(FILE)" || { echo "usage: make restore FILE=var/backups/tickerbeat-<stamp>.sqlite3 (or .dump)" >&2; exit 2; }
	$(PY) -m storage restore "$(FILE)"

clean-logs: install  ## delete log files under LOG_DIR (var/logs) older than LOG_KEEP_DAYS (7) days
	$(PY) -m stack.logs --dir $(LOG_DIR) --keep-days $(LOG_KEEP_DAYS)

bench: install  ## the benchmarks under bench/ (figures go to docs/benchmarks.md)
	$(PY) bench/limiter.py
	$(PY) bench/sandbox.py
	$(PY) bench/day.py
	$(PY) bench/pacing.py

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
