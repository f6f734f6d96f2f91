# Data path: cache-producer + source service against real ZooKeeper x3, Kafka 3.9 x3 and
# Redis Cluster 3+3 (hack/local/*), on 127.0.2.x (tests) / 127.0.5.x (bench). See docs/benchmarks.md.
.PHONY: test-integration-producer bench-producer

# node_modules is checked, not rebuilt (a deps-node prerequisite could run `npm ci` under other tests).
test-integration-producer: kafka-deps ## change->Redis, no rollback, 3 producers + lock intervals, kills, DLQ, HTTP single-flight, hot products (~7 min)
	@test -d node_modules/kafkajs || { echo "test-integration-producer: node_modules missing; run 'make deps-node'" >&2; exit 1; }
	$(JEST) --selectProjects integration --runInBand workloads/cache-producer/test/integration/

bench-producer: kafka-deps ## updates/s with ZK locks vs CAS only vs raw kafkajs+SET, latency p50/p99 at 1,000/s, RSS (last line updates_per_s_locked=)
	npx tsc -p tsconfig.build.json || test -f dist/bench/producer.js
	node dist/bench/producer.js

INTEGRATION_TARGETS += test-integration-producer
