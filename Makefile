# Tenantry — developer and CI entry points. `make help` lists them.
#
# The database and Stripe come from .ci/with-env:
#   DATABASE_URL     kept when set; else PostgreSQL on 127.0.0.1:5432 when it lets us in as a
#                    superuser; else a private cluster under .data/ (TENANTRY_PRIVATE_PG=1
#                    forces it; port TENANTRY_PRIVATE_PG_PORT, default 54329). See .ci/devdb.
#   STRIPE_API_BASE  stripe-mock on 127.0.0.1:12111 unless STRIPE_API_KEY is set. See .ci/stripe-mock.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Go may be installed but not on PATH (e.g. a fresh login shell, CI).
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := $(PATH):/usr/local/go/bin
endif

GO        ?= go
PKGS      ?= ./...
TESTFLAGS ?=
RUN       ?=
TIMEOUT   ?= 20m
BENCH     ?= .
BENCHTIME ?= 1x
BENCHFLAGS ?=
FUZZTIME  ?= 10s
STATICCHECK_VERSION ?= v0.8.2
# 1.34.20: the newest Redocly CLI that runs on Debian 12's Node.js 18 (2.x needs Node 20.19+).
REDOCLY_VERSION ?= 1.34.20

DATA := .data
# make build writes every binary of cmd/ into BINDIR: tenantry, and a product's own binary
# (cmd/<name>, calling platform.Main with its products) next to it. make run runs BIN.
BINDIR := $(DATA)/bin
BIN    := $(BINDIR)/tenantry
ENV    := .ci/with-env

.PHONY: help run run-cluster build test fuzz bench lint openapi-lint fmt clean-data db db-stop stripe-mock

help: ## list the targets
	@echo "Tenantry — make targets:"
	grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22
	echo
	echo "Variables: PKGS=$(PKGS) TESTFLAGS='...' RUN='^TestName' TIMEOUT=$(TIMEOUT) FUZZTIME=$(FUZZTIME)"
	echo "           BENCH=$(BENCH) BENCHTIME=$(BENCHTIME) BENCHFLAGS='...'"
	echo "Environment: DATABASE_URL, TENANTRY_PRIVATE_PG=1, TENANTRY_PRIVATE_PG_PORT, STRIPE_API_KEY"

# -buildvcs=auto: the binary records the commit it was built from (`tenantry version`) even
# where GOFLAGS carries -buildvcs=false; outside a git checkout it records nothing.
build: ## build the binaries of cmd/ into .data/bin/ (tenantry, and any product binary)
	@mkdir -p $(BINDIR)
	$(GO) build -buildvcs=auto -o $(BINDIR)/ ./cmd/...

# `make run` listens on the loopback interface only (the README's sample operator token must
# not open the API to the network); set TENANTRY_ADDR, e.g. TENANTRY_ADDR=:8080, to listen
# elsewhere.
# `make run` also writes $(DATA)/env (DATABASE_URL=... of the database it serves), which the
# CLI reads when neither --database-url nor DATABASE_URL is given: `.data/bin/tenantry tenants
# list` finds make run's data. A URL that carries a password is not written (no secret at rest).
# Heads are signed by default: unless TENANTRY_AUDIT_SIGNING_KEY or _FILE is set, make run
# makes a development key in $(DATA)/audit-signing.key (mode 0600, with the binary's `audit
# keygen`) when there is none and serves with TENANTRY_AUDIT_SIGNING_KEY_FILE pointing at it;
# the public key of the key it serves with is written to $(DATA)/audit-signing.pub. Likewise,
# unless TENANTRY_WEBHOOK_KEY or _FILE is set, it makes $(DATA)/webhook.key (32 random bytes in
# hex, mode 0600), which seals outbound webhooks' signing secrets.
run: build ## migrate, then serve on 127.0.0.1:8080 (database and stripe-mock started when needed)
	@export TENANTRY_ADDR="$${TENANTRY_ADDR:-127.0.0.1:8080}"
	mkdir -p $(DATA)
	WITH_ENV_DATABASE=tenantry $(ENV) bash -c '
		set -e
		umask 077
		case "$$DATABASE_URL" in
		*://*:*@*|*[?\&]password=*) rm -f "$$2/env"; echo "make run: DATABASE_URL carries a password; $$2/env not written" >&2 ;;
		*) printf "# written by make run: the database it serves\nDATABASE_URL=%s\n" "$$DATABASE_URL" > "$$2/env" ;;
		esac
		if [ -z "$${TENANTRY_AUDIT_SIGNING_KEY:-}" ] && [ -z "$${TENANTRY_AUDIT_SIGNING_KEY_FILE:-}" ]; then
			key="$$(cd "$$2" && pwd -P)/audit-signing.key"
			if [ ! -e "$$key" ]; then
				"$$1" audit keygen --out "$$key" >/dev/null
				echo "make run: made a development head signing key, $$key" >&2
			fi
			export TENANTRY_AUDIT_SIGNING_KEY_FILE="$$key"
		fi
		if [ -z "$${TENANTRY_WEBHOOK_KEY:-}" ] && [ -z "$${TENANTRY_WEBHOOK_KEY_FILE:-}" ]; then
			wkey="$$(cd "$$2" && pwd -P)/webhook.key"
			if [ ! -e "$$wkey" ]; then
				head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n" > "$$wkey"
				echo "make run: made a development webhook key, $$wkey" >&2
			fi
			export TENANTRY_WEBHOOK_KEY_FILE="$$wkey"
		fi
		"$$1" audit head --public-key > "$$2/audit-signing.pub"
		chmod 644 "$$2/audit-signing.pub"
		"$$1" migrate && exec "$$1" serve' run $(BIN) $(DATA)

run-cluster: build ## two replicas of each role (api :8081/:8082, projector, worker) over NATS JetStream
	@WITH_ENV_SERVICES=1 WITH_ENV_DATABASE=tenantry $(ENV) .ci/cluster

# RUN and BENCH are regular expressions, where `$` is an anchor: they are read with $(value ...)
# so that make does not expand `$|` or `$)` in them (RUN='^TestA$|^TestB' reaches go test as
# written). A `'` in them is not supported.
test: ## run the tests: PKGS=./eventstore/... RUN='^TestAppend' TESTFLAGS='-v -race'
	@WITH_ENV_SERVICES=1 WITH_ENV_PGBOUNCER=1 WITH_ENV_TEST_TOOLS=1 $(ENV) $(GO) test -count=1 -timeout $(TIMEOUT) $(if $(value RUN),-run '$(value RUN)') $(TESTFLAGS) $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each (default 10s): FUZZTIME=3s PKGS=./http
	@FUZZTIME='$(FUZZTIME)' PKGS='$(PKGS)' $(ENV) .ci/fuzz

bench: ## run the benchmarks: BENCH=regexp BENCHTIME=1x; figures also in .data/bench.log
	@mkdir -p $(DATA)
	rc=0
	# Each package has one Benchmark that times its own figures and prints BENCH lines;
	# BENCH (a regexp over figure names, e.g. BENCH=append_single) selects the figures.
	BENCH='$(value BENCH)' WITH_ENV_SERVICES=1 $(ENV) $(GO) test -count=1 -timeout 60m -run '^$$' -bench . -benchtime $(BENCHTIME) \
		$(BENCHFLAGS) $(PKGS) 2>&1 | tee $(DATA)/bench.log || rc=$$?
	if grep -q '^BENCH ' $(DATA)/bench.log; then
		echo
		echo "=== BENCH lines ($(DATA)/bench.log) ==="
		grep '^BENCH ' $(DATA)/bench.log
	fi
	exit $$rc

lint: ## no tracked file over 1 MiB, gofmt, go vet and staticcheck
	@# A build or a dump committed by mistake stays in the history for ever: refuse any
	# tracked file over 1 MiB, by name.
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576' || true)
		if [ -n "$$big" ]; then
			echo "size: tracked files over 1 MiB (remove them from git and ignore them):"
			echo "$$big" | awk '{ s = $$1; sub(/^[0-9]+ /, ""); printf "  %s (%.1f MiB)\n", $$0, s / 1048576 }'
			exit 1
		fi
		echo "size: ok (no tracked file over 1 MiB)"
	else
		echo "size: not a git checkout; the tracked-file size check is skipped"
	fi
	files=$$(find . -path ./.data -prune -o -path ./.git -prune -o -name '*.go' -print)
	if [ -n "$$files" ]; then
		bad=$$(gofmt -l $$files)
		if [ -n "$$bad" ]; then
			echo "gofmt: these files need 'gofmt -w' (or 'make fmt'):"
			echo "$$bad"
			exit 1
		fi
	fi
	echo "gofmt: ok"
	$(GO) vet $(PKGS)
	echo "go vet: ok"
	bindir=$$($(GO) env GOBIN); [ -n "$$bindir" ] || bindir=$$($(GO) env GOPATH | cut -d: -f1)/bin
	sc=$$bindir/staticcheck
	if ! [ -x "$$sc" ] || ! $(GO) version -m "$$sc" 2>/dev/null | grep -q "honnef.co/go/tools.*$(STATICCHECK_VERSION)"; then
		echo "installing staticcheck $(STATICCHECK_VERSION) (go install)"
		(cd / && $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)) </dev/null || sc=
	fi
	if [ -n "$$sc" ] && [ -x "$$sc" ]; then
		"$$sc" $(PKGS)
		echo "staticcheck: ok"
	else
		echo "staticcheck: could not be installed; skipped"
	fi

# The OpenAPI document is derived from the code (`tenantry openapi`); Redocly's recommended
# ruleset must report no error (warnings are printed). Needs node and npx (npm).
openapi-lint: ## write the OpenAPI documents (tenantry, and tenantry-tasks with the example product) to .data/ and lint them with Redocly (recommended rules)
	@mkdir -p $(DATA)
	$(GO) run ./cmd/tenantry openapi --out $(DATA)/openapi.json
	$(GO) run ./cmd/tenantry-tasks openapi --out $(DATA)/openapi-tasks.json
	npx --yes @redocly/cli@$(REDOCLY_VERSION) lint --extends=recommended $(DATA)/openapi.json $(DATA)/openapi-tasks.json

fmt: ## gofmt -w every Go file
	@find . -path ./.data -prune -o -path ./.git -prune -o -name '*.go' -print | xargs -r gofmt -w

db: ## print the URL of the database make run serves (starting a private cluster if needed)
	@DEVDB_DATABASE=tenantry .ci/devdb

db-stop: ## stop the private PostgreSQL cluster under .data/
	@.ci/devdb stop

stripe-mock: ## start stripe-mock if needed and print its URL
	@.ci/stripe-mock

clean-data: ## stop the private cluster and stripe-mock, delete .data/
	@.ci/devdb destroy
	.ci/stripe-mock stop
	rm -rf $(DATA)
