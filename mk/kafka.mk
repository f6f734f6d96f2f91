# Kafka / ZooKeeper tier (data path): ZooKeeper x3 + Kafka 3.9 x3 started from the
# operator's rendered zoo.cfg / server.properties (hack/local/{zookeeper,kafka}.ts) and the
# operator's topic manager (operator/src/kafka) tested against them. See docs/local-tier.md.

.PHONY: kafka-deps test-integration-kafka

kafka-deps: ## Kafka 3.9.1 + ZooKeeper 3.8.4 jars from Maven Central (cached; no-op when present)
	@test -f $(CACHETIER_CACHE)/kafka-3.9.1/.complete || bash hack/deps.d/30-kafka.sh

# node_modules is checked, not rebuilt: a `deps-node` prerequisite would run `npm ci` (wiping
# node_modules under other running tests) whenever package.json is touched. `make deps` installs it.
test-integration-kafka: kafka-deps ## real ZooKeeper x3 + Kafka x3 on 127.0.2.x: topics, broker/ZooKeeper kills (~3 min)
	@test -d node_modules/kafkajs || { echo "test-integration-kafka: node_modules missing; run 'make deps-node'" >&2; exit 1; }
	$(JEST) --selectProjects integration --runInBand operator/test/integration/kafka/

INTEGRATION_TARGETS += test-integration-kafka
