# Control-plane tier: the operator against a real kube-apiserver/controller-manager/
# scheduler built from source (hack/deps-kubernetes.sh), etcd from Debian, with the chart's
# RBAC. No containers. State lives in $CACHETIER_CP_DIR (default /tmp/cachetier-controlplane).
.PHONY: deps-controlplane controlplane-up controlplane-down test-controlplane bench-operator

deps-controlplane: deps-node ## Kubernetes binaries (cold build: see docs/controlplane.md) + helm
	bash hack/deps-kubernetes.sh
	bash hack/deps.d/20-helm.sh

controlplane-up: deps-controlplane ## start etcd + kube-apiserver + controller-manager + scheduler + 3 fake nodes on 127.0.0.1
	@kc=$$(bash hack/controlplane/up.sh) && echo "export KUBECONFIG=$$kc"

controlplane-down: ## stop the control plane and remove its state
	bash hack/controlplane/down.sh

test-controlplane: deps-controlplane ## the built operator against the real control plane, with the chart's RBAC
	npx tsc -p tsconfig.build.json
	$(JEST) --selectProjects controlplane --runInBand

bench-operator: deps-controlplane ## apply->children latency (1 and 20 CacheTiers) and idle operator RSS
	npx tsc -p tsconfig.build.json
	node dist/bench/operator.js
