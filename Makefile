# Everything runs from the project's own virtualenv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export PYTHONPATH := .:functions:layers/common/python

.PHONY: venv test unit lint pr synth local demo deploy openapi bench redrive rebuild-rollups tenant clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

## The whole suite: unit, integration, infra and local end-to-end tiers, on
## TEST_WORKERS processes (pytest-xdist; 0 runs it in this one). It fails when the
## branch coverage of the functions and the common layer falls under 90 %.
TEST_WORKERS ?= 2
COVERAGE := --cov=functions --cov=layers/common/python --cov-branch --cov-fail-under=90 \
  --cov-report=term-missing:skip-covered
test: venv
	$(PY) -m pytest -q -n $(TEST_WORKERS) $(COVERAGE)

unit: venv
	$(PY) -m pytest -q -m unit

## ruff, mypy (strict: every definition annotated; the pydantic plugin) and xenon
## (no function beyond complexity grade C). .pre-commit-config.yaml runs the same.
TYPED := functions layers/common/python infra bench tests
COMPLEX := functions layers/common/python infra bench
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(TYPED)
	$(VENV)/bin/xenon --max-absolute C --max-modules B --max-average A $(COMPLEX)

## What a change must pass before review: the linters, then the whole suite.
pr: lint test

## Synthesize the CloudFormation template offline into cdk.out/.
synth: venv
	$(PY) infra/app.py

## Serve the API, streams, schedules and clock locally on 127.0.0.1:$${LOCAL_PORT:-3000}.
local: venv
	$(PY) -m infra.local

## Play the scripted storefront scenario against a fresh local stack.
demo: venv
	$(PY) -m infra.local.demo

## Regenerate docs/openapi.json from the code.
openapi: venv
	$(PY) -m infra.local.openapi > docs/openapi.json

## Benchmarks (figures recorded in docs/performance.md): local-stack latency,
## DynamoDB requests and capacity units per points operation and of a day's care at 1,000 and
## 100,000 members, then each function's cold start.
bench: venv
	$(PY) -m bench.run
	$(PY) -m bench.points
	$(PY) -m bench.care
	$(PY) -m bench.tickets
	$(PY) -m bench.reports
	$(PY) -m bench.cold_start

## Deploy to the AWS account of the current credentials (needs the aws-cdk CLI). Deployment
## settings are CDK context, e.g.
##   make deploy DEPLOY_CONTEXT="-c sender_email=loyalty@shop.example -c alarm_email=ops@shop.example"
## (or in cdk.context.json); the settings are checked before the CLI is fetched.
DEPLOY_CONTEXT ?=
deploy: venv
	@$(PY) infra/app.py --check-context $(DEPLOY_CONTEXT) || { \
	  echo 'make deploy: e.g. make deploy DEPLOY_CONTEXT="-c sender_email=loyalty@shop.example"' >&2; \
	  echo '  (README, "Deploy": sender_domain, alarm_email, api_rate_limit, api_burst_limit, ...)' >&2; \
	  exit 2; }
	npx --yes aws-cdk@2 deploy --app "$(PY) infra/app.py" --require-approval broadening $(DEPLOY_CONTEXT)

## Replay a stream consumer's dead-lettered records, each applied once:
##   make redrive FUNCTION=PointsEarn                    (the local stack, port LOCAL_PORT or 3000)
##   make redrive FUNCTION=PointsEarn STACK=LoyaltyStack (AWS, current credentials)
redrive: venv
	@test -n "$(FUNCTION)" || { echo 'make redrive: give FUNCTION=<logical id>, e.g. PointsEarn' >&2; exit 2; }
	$(PY) -m infra.redrive --function "$(FUNCTION)" \
	  $(if $(STACK),--stack "$(STACK)",--local http://127.0.0.1:$${LOCAL_PORT:-3000})

## Recompute a tenant's KPI rollups from the event log, paging per day (reports.rebuild):
##   make rebuild-rollups TENANT=demo FROM=2026-01-01 TO=2026-03-31                    (local stack)
##   make rebuild-rollups TENANT=demo FROM=2026-01-01 TO=2026-03-31 STACK=LoyaltyStack (AWS)
rebuild-rollups: venv
	@test -n "$(TENANT)" -a -n "$(FROM)" -a -n "$(TO)" || { \
	  echo 'make rebuild-rollups: give TENANT=<id> FROM=YYYY-MM-DD TO=YYYY-MM-DD [STACK=<stack>]' >&2; exit 2; }
	$(PY) -m infra.rebuild_rollups --tenant "$(TENANT)" --from "$(FROM)" --to "$(TO)" \
	  $(if $(STACK),--stack "$(STACK)",--local http://127.0.0.1:$${LOCAL_PORT:-3000})

## Bootstrap a tenant and its first admin key (printed once):
##   make tenant TENANT=acme NAME="Acme" MANAGER_EMAIL=boss@acme.example                    (local stack)
##   make tenant TENANT=acme NAME="Acme" MANAGER_EMAIL=boss@acme.example STACK=LoyaltyStack (AWS)
tenant: venv
	@test -n "$(TENANT)" -a -n "$(NAME)" -a -n "$(MANAGER_EMAIL)" || { \
	  echo 'make tenant: give TENANT=<id> NAME=<name> MANAGER_EMAIL=<address> [STACK=<stack>]' >&2; exit 2; }
	@$(PY) -m infra.tenant --tenant "$(TENANT)" --name "$(NAME)" --manager-email "$(MANAGER_EMAIL)" \
	  $(if $(STACK),--stack "$(STACK)",--local http://127.0.0.1:$${LOCAL_PORT:-3000})

clean:
	rm -rf cdk.out outbox .local
