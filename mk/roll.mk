# Operator-driven rolls (operator/src/roll) on real processes: ZooKeeper x3 + Kafka x3 on 127.0.9.x
# (hack/local, the operator's rendered configs) rolled to a new config one pod at a time by the
# roll driver in its own process, under acks=all load, with that process SIGKILLed mid-roll.

.PHONY: test-integration-roll

test-integration-roll: kafka-deps ## ZooKeeper + Kafka rolls under load on 127.0.9.x, roller killed mid-roll (~5 min)
	@test -d node_modules/kafkajs || { echo "test-integration-roll: node_modules missing; run 'make deps-node'" >&2; exit 1; }
	$(JEST) --selectProjects integration --runInBand operator/test/integration/roll/

INTEGRATION_TARGETS += test-integration-roll
