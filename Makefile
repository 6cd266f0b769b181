# Set-up and everyday commands. `make demo` and `make test` work on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo web run airflow test lint typecheck check bench system-deps clean

$(STAMP): pyproject.toml
	@# Debian/Ubuntu ship venv (ensurepip) separately: install it when creating the venv fails.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: serve the bundled demo site on loopback, archive it twice, print search results
demo: $(STAMP)
	$(BIN)/osint-archive demo

## web: the investigators' web UI over ./data on http://127.0.0.1:8000 (run `make demo` first);
## the first time it creates the account `investigator` and prints its password once
web: $(STAMP)
	$(BIN)/osint-archive users add investigator --role investigator --generate-password --exist-ok
	$(BIN)/osint-archive serve

## run: one pass over config/sources.yaml (the real sources)
run: $(STAMP)
	$(BIN)/osint-archive run

## airflow: Airflow standalone on this machine with the project's DAGs and the embedded
## defaults; UI on http://localhost:8080 (user admin, password printed at the first start)
AIRFLOW_HOME_DIR := $(CURDIR)/data/airflow
AIRFLOW_ENV := AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
  AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__API__HOST=127.0.0.1 PATH="$(CURDIR)/$(BIN):$$PATH"
airflow: $(STAMP)
	mkdir -p $(AIRFLOW_HOME_DIR)
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate > $(AIRFLOW_HOME_DIR)/migrate.log
	@# A broken sources file must not keep Airflow down: the crawl DAGs show its import error.
	-$(BIN)/osint-archive sources pools > $(AIRFLOW_HOME_DIR)/pools.json && \
	  $(AIRFLOW_ENV) $(BIN)/airflow pools import $(AIRFLOW_HOME_DIR)/pools.json
	$(AIRFLOW_ENV) $(BIN)/airflow standalone

## test: install everything needed, lint, type-check, run the whole test suite
test: $(STAMP) system-deps lint typecheck
	$(BIN)/python -m pytest -q -ra

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## bench: every benchmark (crawl, browser, telegram, media, capture, transcription, language, search, audit, export, web); updates the README tables and docs/
bench: $(STAMP) system-deps
	$(BIN)/python -m bench.crawl
	$(BIN)/python -m bench.browser
	$(BIN)/python -m bench.telegram
	$(BIN)/python -m bench.media
	$(BIN)/python -m bench.capture
	$(BIN)/python -m bench.transcription
	$(BIN)/python -m bench.language
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.export
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.report

# Debian packages the collectors, tests and benchmarks use (package:command), installed only when
# missing (needs root): Chromium for browser capture, ffmpeg/ffprobe for media, festival with its
# Russian voice and espeak-ng to synthesise test speech, curl and wget as benchmark references,
# PostgreSQL and Redis for the Airflow cluster test (tests/airflow_cluster.py).
SYSTEM_PACKAGES := wget:wget openssl:openssl zip:zip curl:curl chromium:chromium ffmpeg:ffprobe \
  festival:text2wave festvox-ru:/usr/share/festival/voices/russian espeak-ng:espeak-ng \
  postgresql:/usr/lib/postgresql/15/bin/initdb redis-server:redis-server
system-deps:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do p=$${entry%%:*}; c=$${entry#*:}; \
	  command -v $$c >/dev/null || [ -e $$c ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
