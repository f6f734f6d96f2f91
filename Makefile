# CacheTier. Two commands matter (see README): `make demo` runs the tier end to end on this
# machine; `make check` runs every test tier. Both install what they need via `make deps`.
# Area-specific targets live in mk/*.mk.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export CACHETIER_CACHE ?= $(HOME)/.cache/cachetier
export PATH := $(CACHETIER_CACHE)/bin:$(PATH)
JEST := node --experimental-vm-modules --no-warnings node_modules/jest/bin/jest.js

.PHONY: all deps deps-node build lint test chart-lint check test-integration clean help

all: build

help: ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

deps: deps-node ## install what the build, unit/integration tests, demo and benchmarks need (cached in $CACHETIER_CACHE); the Kubernetes build is deps-controlplane
	bash hack/deps.sh

deps-node: ## npm ci, only when package-lock.json changed since the last install
	@bash hack/deps-node.sh

build: deps-node ## compile TypeScript to dist/
	npx tsc -p tsconfig.build.json

lint: deps-node ## eslint + tsc --noEmit
	npx tsc --noEmit -p tsconfig.json
	npx eslint .

test: deps-node ## unit tier: renderers, planners, parsers (no servers; under a minute)
	$(JEST) --selectProjects unit

# Every integration area adds itself here (mk/*.mk): real servers started by hack/ scripts.
INTEGRATION_TARGETS :=

include $(sort $(wildcard mk/*.mk))

test-integration: $(INTEGRATION_TARGETS) ## integration tier: real Redis, ZooKeeper, Kafka, nginx + Lua

# The README's test command. CI runs it from a fresh clone. hack/check.sh runs deps, lint,
# chart-lint, test, test-integration, test-controlplane and e2e in that order (building the e2e
# tier's Go binaries in the background meanwhile) and prints the time of each.
check: ## every test tier, as CI runs it
	bash hack/check.sh

clean:
	rm -rf dist coverage .tier
