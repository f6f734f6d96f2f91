# Helm chart + CRD targets. helm comes from hack/deps.d/20-helm.sh
# ($(CACHETIER_CACHE)/bin is on PATH via the top Makefile).
CHART_DIR := charts/cachetier-operator
CHART_CRD := $(CHART_DIR)/crds/cachetier.yaml
HELM ?= helm
SM_API := monitoring.coreos.com/v1/ServiceMonitor
PR_API := monitoring.coreos.com/v1/PrometheusRule
PM_API := monitoring.coreos.com/v1/PodMonitor

.PHONY: sync-crds chart-crd-check chart-lint

sync-crds: ## copy crds/cachetier.yaml into the chart (the chart ships a byte-identical copy)
	cp crds/cachetier.yaml $(CHART_CRD)

chart-crd-check:
	@cmp -s crds/cachetier.yaml $(CHART_CRD) || { echo "chart-lint: $(CHART_CRD) differs from crds/cachetier.yaml; run 'make sync-crds'" >&2; exit 1; }

chart-lint: chart-crd-check ## helm lint --strict + render checks (ServiceMonitor, PrometheusRule and podmonitors RBAC only with their CRDs, rules = files/prometheus-rules.yaml, dashboards, RBAC cluster-wide and per watched namespace, values schema)
	@command -v $(HELM) >/dev/null || { echo "chart-lint: helm not found; run 'make deps' (hack/deps.d/20-helm.sh)" >&2; exit 1; }
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(CHART_DIR) --set replicaCount=1,leaderElection.enabled=false,metrics.enabled=false,watchNamespaces={shop}
	$(HELM) lint --strict $(CHART_DIR) --set 'watchNamespaces={shop,cart}'
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system > "$$out/plain.yaml"; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --api-versions $(SM_API) > "$$out/sm.yaml"; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --api-versions $(SM_API) --set metrics.serviceMonitor.enabled=false > "$$out/sm-off.yaml"; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --set replicaCount=1 > "$$out/one.yaml"; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --set 'watchNamespaces={shop,cart}' > "$$out/ns.yaml"; \
	node hack/chart-rbac-check.mjs "$$out/plain.yaml" "$$out/ns.yaml" shop,cart; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --api-versions $(PR_API) > "$$out/pr.yaml"; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --api-versions $(PR_API) --set prometheusRule.enabled=false,dashboards.enabled=false > "$$out/pr-off.yaml"; \
	if grep -q '^kind: PrometheusRule$$' "$$out/plain.yaml"; then echo "chart-lint: PrometheusRule rendered without its CRD" >&2; exit 1; fi; \
	if grep -q '^kind: PrometheusRule$$' "$$out/pr-off.yaml"; then echo "chart-lint: PrometheusRule rendered although disabled" >&2; exit 1; fi; \
	if grep -q 'grafana_dashboard:' "$$out/pr-off.yaml"; then echo "chart-lint: dashboards rendered although disabled" >&2; exit 1; fi; \
	node hack/chart-monitoring-check.mjs "$$out/pr.yaml" $(CHART_DIR); \
	if grep -q '^kind: ServiceMonitor$$' "$$out/plain.yaml"; then echo "chart-lint: ServiceMonitor rendered without its CRD" >&2; exit 1; fi; \
	$(HELM) template t $(CHART_DIR) --namespace cachetier-system --api-versions $(PM_API) > "$$out/pm.yaml"; \
	grep -q 'resources: \["podmonitors"\]' "$$out/pm.yaml" || { echo "chart-lint: no podmonitors RBAC with --api-versions $(PM_API)" >&2; exit 1; }; \
	if grep -q 'podmonitors' "$$out/plain.yaml"; then echo "chart-lint: podmonitors RBAC granted without the PodMonitor CRD" >&2; exit 1; fi; \
	grep -q '^kind: ServiceMonitor$$' "$$out/sm.yaml" || { echo "chart-lint: ServiceMonitor missing with --api-versions $(SM_API)" >&2; exit 1; }; \
	if grep -q '^kind: ServiceMonitor$$' "$$out/sm-off.yaml"; then echo "chart-lint: ServiceMonitor rendered although disabled" >&2; exit 1; fi; \
	grep -q '^kind: PodDisruptionBudget$$' "$$out/plain.yaml" || { echo "chart-lint: PDB missing with replicaCount 2" >&2; exit 1; }; \
	if grep -q '^kind: PodDisruptionBudget$$' "$$out/one.yaml"; then echo "chart-lint: PDB rendered with replicaCount 1" >&2; exit 1; fi; \
	for k in Deployment ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Service; do \
	  grep -q "^kind: $$k\$$" "$$out/plain.yaml" || { echo "chart-lint: $$k missing" >&2; exit 1; }; \
	done; \
	if $(HELM) template t $(CHART_DIR) --set replicaCount=2,leaderElection.enabled=false >/dev/null 2>&1; then \
	  echo "chart-lint: 2 replicas without leader election must be refused" >&2; exit 1; fi; \
	if $(HELM) template t $(CHART_DIR) --set bogusKey=1 >/dev/null 2>&1; then \
	  echo "chart-lint: values.schema.json must reject unknown keys" >&2; exit 1; fi; \
	echo "chart-lint: ok"
