# Operator runtime (reconciler, apply layer, leader election, metrics, main).
.PHONY: test-operator run-operator

test-operator: deps-node ## operator unit tests: reconcile on a fake API (controller/), work queue, leader election, servers (runtime/)
	$(JEST) operator/test/unit/controller operator/test/unit/runtime --selectProjects unit

# Runs the built operator against $KUBECONFIG (or ~/.kube/config) in the foreground. Defaults:
# no leader election, metrics on 127.0.0.1:8080, probes on 127.0.0.1:8081; override any env of
# the operator process contract, e.g. `make run-operator LEADER_ELECT=true POD_NAMESPACE=x`.
run-operator: build ## run the operator against $KUBECONFIG in the foreground (Ctrl-C stops it)
	LEADER_ELECT=$${LEADER_ELECT:-false} METRICS_ADDR=$${METRICS_ADDR:-127.0.0.1:8080} \
	HEALTH_ADDR=$${HEALTH_ADDR:-127.0.0.1:8081} LOG_LEVEL=$${LOG_LEVEL:-info} \
	node dist/operator/src/main.js
