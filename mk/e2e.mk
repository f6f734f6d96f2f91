# Images and the kind e2e tier, all built on this machine: no image comes from a registry.
# `make e2e` installs and starts a container engine when none answers (Debian's docker.io, stopped
# by PID at the end), builds kind/containerd/runc/Kubernetes/add-ons from Go modules and every image
# from Debian packages, Maven Central and npm, creates a 1+3 node kind cluster in its own kubeconfig,
# helm-installs the chart, applies the e2e CacheTier and runs the suite. Nothing is skipped: a run
# that cannot build the cluster fails. E2E_KEEP=1 keeps cluster and engine running afterwards.

IMAGE_TAG ?= 0.1.0
REGISTRY ?= ghcr.io/cachetier

.PHONY: images e2e e2e-up e2e-down e2e-binaries

e2e-binaries: ## build kind, containerd, runc, crictl, etcd, CoreDNS, kube-router, local-path, kubelet/kubeadm/kube-proxy from Go modules (cached)
	bash hack/kind/build-binaries.sh

images: ## build every image the tier runs, locally (starts Debian's docker when no engine answers)
	bash hack/kind/engine-up.sh >/dev/null
	IMAGE_TAG=$(IMAGE_TAG) REGISTRY=$(REGISTRY) bash hack/kind/images.sh

e2e: deps-node ## real kind cluster (1+3 nodes) + local images + chart + CacheTier, then the e2e suite; cleans up what it started (E2E_KEEP=1 keeps it)
	IMAGE_TAG=$(IMAGE_TAG) REGISTRY=$(REGISTRY) bash hack/kind/e2e.sh

e2e-up: deps-node ## just bring the kind tier up (kept running; KUBECONFIG=$$CACHETIER_CACHE/kind/cachetier-e2e.kubeconfig)
	IMAGE_TAG=$(IMAGE_TAG) REGISTRY=$(REGISTRY) bash hack/kind/up.sh

e2e-down: ## delete the kind cluster and stop the engine if make e2e/e2e-up started it (by PID)
	bash hack/kind/down.sh
