# Lotse: `make run` (embedded network with demo data) and `make test` (everything).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LOTSE_DATA_DIR ?= $(CURDIR)/var

LOCAL_BROKER := amqp://guest:guest@127.0.0.1:5672//
LOCAL_DATABASE := postgresql+psycopg://postgres@127.0.0.1:5432/lotse

.PHONY: run test stack services runtime-services lint clean definitions translations bench chaos

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the whole network in one process on SQLite + the embedded bus, with demo accounts
run: $(STAMP)
	LOTSE_SANDBOX_AUTO_ACCEPT=$${LOTSE_SANDBOX_AUTO_ACCEPT:-5} \
	LOTSE_PARTNER_POLL_SECONDS=$${LOTSE_PARTNER_POLL_SECONDS:-10} \
	  $(BIN)/lotse run --demo

## test: unit, component, integration (RabbitMQ + PostgreSQL), end-to-end and browser tests
test: $(STAMP) services
	CI=$${CI:-1} $(BIN)/python -m pytest -q

## services: start RabbitMQ, PostgreSQL and Chromium's driver if they are missing (idempotent)
services:
	@bash deploy/ensure-services.sh

## runtime-services: RabbitMQ and PostgreSQL only (the stack and the benchmarks need no browser)
runtime-services:
	@bash deploy/ensure-services.sh --runtime

## stack: the distributed stack as local processes against this machine's RabbitMQ/PostgreSQL
stack: $(STAMP) runtime-services
	psql -h 127.0.0.1 -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname='lotse'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE lotse"
	LOTSE_BROKER_URL=$${LOTSE_BROKER_URL:-$(LOCAL_BROKER)} \
	LOTSE_DATABASE_URL=$${LOTSE_DATABASE_URL:-$(LOCAL_DATABASE)} \
	LOTSE_SANDBOX_AUTO_ACCEPT=$${LOTSE_SANDBOX_AUTO_ACCEPT:-5} \
	LOTSE_PARTNER_POLL_SECONDS=$${LOTSE_PARTNER_POLL_SECONDS:-10} \
	  $(BIN)/lotse stack --demo

## bench: the distributed stack under a surge (32,000 intakes) against raw kombu and bare Flask
## baselines; figures in bench/results/latest.json and .png (BENCH_ARGS=--quick for a short run)
bench: $(STAMP) runtime-services
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## chaos: the fault suite: 2,000 intakes while RabbitMQ and PostgreSQL restart, workers and
## relays are killed, a partner is down, deliveries are duplicated and poisoned; then the
## invariant checker (CHAOS_ARGS=--quick for the smaller run that `make test` also does)
chaos: $(STAMP) runtime-services
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

## definitions: regenerate deploy/rabbitmq/definitions.json, docs/events.md and
## docs/record-of-processing.md (and .de.md, in German) from the code and the configuration it
## ships (shared/defaults/: processing.json, partners.json, retention.json; a deployment's own
## files are not used here)
definitions: export LOTSE_PROCESSING_FILE =
definitions: export LOTSE_PARTNERS_FILE =
definitions: export LOTSE_RETENTION_FILE =
definitions: $(STAMP)
	$(BIN)/lotse topology definitions > deploy/rabbitmq/definitions.json
	$(BIN)/lotse catalogue > docs/events.md
	$(BIN)/lotse record-of-processing > docs/record-of-processing.md
	$(BIN)/lotse record-of-processing --language de > docs/record-of-processing.de.md

## translations: refresh the gettext catalogues after changing UI texts, then compile them
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o shared/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i shared/translations/messages.pot -d shared/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d shared/translations --statistics

lint: $(STAMP)
	$(BIN)/ruff check services shared tests

clean:
	rm -rf $(VENV) var .pytest_cache
