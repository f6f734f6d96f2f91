# Redis Cluster orchestration: real redis-server 7.0 integration tests and the reshard benchmark.
.PHONY: test-integration-redis bench-reshard

INTEGRATION_TARGETS += test-integration-redis

test-integration-redis: deps-node ## Redis orchestration against real redis-server on 127.0.1.x (bootstrap, scale under load, crash-resume, heal)
	$(JEST) --selectProjects integration --runInBand --forceExit operator/test/integration/redis

# BENCH_KEYS=n (default 1000000) sets the data size; the last line is ratio=<redis-cli s / our s>.
bench-reshard: deps-node ## ours vs redis-cli: bootstrap and 3->4 master rebalance on 127.0.5.x
	npx tsc -p bench/tsconfig.json
	node dist/bench-build/bench/reshard.js
