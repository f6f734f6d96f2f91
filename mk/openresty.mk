# OpenResty distribution + app layers: real Debian nginx + Lua against a real Redis
# Cluster, an HTTP L3 and a real Kafka (hack/local/*), on 127.0.3.x (tests) / 127.0.5.x (bench).
# See CONTRIBUTING.md (what the tier proves) and docs/benchmarks.md.
.PHONY: test-integration-openresty bench-openresty

test-integration-openresty: kafka-deps ## nginx+Lua: slots/ASK/MOVED, single-flight, negative, stale, invalidation, hashing, hot spread, Kafka log (~3 min)
	@command -v nginx >/dev/null || { echo "test-integration-openresty: nginx missing (hack/deps-apt.sh)" >&2; exit 1; }
	@test -d node_modules/kafkajs || { echo "test-integration-openresty: node_modules missing; run 'make deps-node'" >&2; exit 1; }
	$(JEST) --selectProjects integration --runInBand workloads/openresty/test/integration/

bench-openresty: kafka-deps ## wrk: L1 hit (access log to a real Kafka broker) vs plain nginx, L2 vs redis-benchmark GET, L3, two hops (last line l1_ratio=)
	@command -v wrk >/dev/null || { echo "bench-openresty: wrk missing (hack/deps-apt.sh)" >&2; exit 1; }
	@command -v redis-benchmark >/dev/null || { echo "bench-openresty: redis-benchmark missing (redis-tools, hack/deps-apt.sh)" >&2; exit 1; }
	npx tsc -p tsconfig.build.json || test -f dist/bench/openresty.js
	node dist/bench/openresty.js

INTEGRATION_TARGETS += test-integration-openresty
