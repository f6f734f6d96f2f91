# Images and the kind e2e tier. Both need a container engine (docker or podman); this machine
# has none, so `make e2e` says so and fails unless E2E_SKIP=1 (CI sets it and reports the skip).

IMAGE_TAG ?= 0.1.0
REGISTRY ?= ghcr.io/cachetier
CONTAINER_ENGINE ?= docker

.PHONY: images e2e e2e-up e2e-down

images: ## build operator, cache-producer, openresty and source-service images (needs docker/podman)
	@bash hack/kind/engine.sh >/dev/null || { echo "images: no container engine (docker/podman daemon) on this machine" >&2; exit 2; }
	for t in operator cache-producer source-service; do \
	  $(CONTAINER_ENGINE) build --target $$t -t $(REGISTRY)/$$t:$(IMAGE_TAG) . ; done
	$(CONTAINER_ENGINE) build -f workloads/openresty/Dockerfile -t $(REGISTRY)/openresty:$(IMAGE_TAG) .

e2e: deps-node ## kind cluster + images + chart + example CacheTier, then the e2e suite (E2E_SKIP=1: skip loudly)
	bash hack/kind/e2e.sh

e2e-up: ## just bring the kind tier up (kept running)
	bash hack/kind/up.sh

e2e-down: ## delete the kind cluster
	bash hack/kind/down.sh
