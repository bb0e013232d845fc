# Two commands matter: `make run` and `make test`. Both set up whatever is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | md5sum | cut -c1-12)

export PYTHONPATH := $(CURDIR)
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/shop.db
export GATEWAY_DATABASE_URL ?= sqlite:///$(CURDIR)/var/gateway.db
export TF_CPP_MIN_LOG_LEVEL ?= 2

help:
	@echo "make run    - set up everything missing and start the whole system (embedded SQLite)"
	@echo "make test   - set up everything missing and run every test"
	@echo "PROFILE=prod make run - the production profile on local PostgreSQL + Redis (docs/production.md)"
	@echo "make bench  - load benchmark: full system vs bare Rasa (writes docs/benchmarks.md)"
	@echo "make train | seed | eval | lint | validate"

$(STAMP): requirements.txt requirements-dev.txt .python-version
	bash scripts/bootstrap_venv.sh
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

system-deps:
	bash scripts/system_deps.sh

seed: venv
	$(PY) -m actions.shop.seed --if-missing

reseed: venv
	$(PY) -m actions.shop.seed --force

train: venv
	$(PY) scripts/train.py

validate: venv
	$(VENV)/bin/rasa data validate --domain domain --data data --config config.yml --fail-on-warnings || \
	$(VENV)/bin/rasa data validate --domain domain --data data --config config.yml

eval: train
	$(PY) scripts/eval_topics.py

LINTED := $(wildcard actions bot components scripts tests bench deploy)

lint: venv
	$(VENV)/bin/ruff check $(LINTED)

ifeq ($(PROFILE),prod)
run: venv train
	bash scripts/run_prod.sh
else
run: venv seed train
	bash scripts/run_all.sh
endif

bench: venv train
	$(PY) -m bench.run --patched-bare

test: venv system-deps
	$(VENV)/bin/pip check
	$(VENV)/bin/ruff check $(LINTED)
	$(PY) scripts/gen_responses.py --check || (echo "domain/responses.yml is stale: run scripts/gen_responses.py" && exit 1)
	$(PY) scripts/train.py
	$(PY) -m pytest -q tests

.PHONY: help venv system-deps seed reseed train validate eval lint run test bench
