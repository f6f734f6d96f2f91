# The tier's monitoring against a real Prometheus: the local tier on 127.0.7.x with every exporter
# the operator renders, Debian's prometheus scraping it with the shipped alert rules and the
# overview dashboard's queries (operator/test/integration/metrics). Fails when prometheus cannot run.
.PHONY: test-integration-metrics dashboard-png

INTEGRATION_TARGETS += test-integration-metrics

METRICS_RULES := charts/cachetier-operator/files/prometheus-rules.yaml

test-integration-metrics: build ## alerts + dashboard queries against Debian's prometheus scraping the local tier on 127.0.7.x; a Redis replica stopped fires its alert
	@bash hack/deps-apt.sh
	@bash hack/deps.d/30-kafka.sh
	@bash hack/deps.d/40-metrics.sh
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { echo "test-integration-metrics: prometheus/promtool not installed (Debian package prometheus)" >&2; exit 1; }
	promtool check rules $(METRICS_RULES)
	$(JEST) --selectProjects integration --runInBand --forceExit operator/test/integration/metrics

dashboard-png: ## test-integration-metrics, writing docs/overview-dashboard.png (the overview dashboard drawn from its Prometheus by hack/dashboard-png.py)
	UPDATE_DASHBOARD_PNG=1 $(MAKE) test-integration-metrics
