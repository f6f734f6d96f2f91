# make demo: the whole tier as local processes (no container engine), configured by the operator's
# renderers; see hack/demo.ts. DEMO_EXIT=1 or CI=true runs the flows once and exits.

.PHONY: demo test-integration-demo

demo: deps build ## run the whole tier on this machine and show it working (Ctrl-C stops it)
	node --enable-source-maps dist/hack/demo.js

test-integration-demo: build ## make demo, non-interactively, as a test (its Prometheus too)
	@bash hack/deps.d/40-metrics.sh
	$(JEST) --selectProjects integration --runInBand hack/test/integration

INTEGRATION_TARGETS += test-integration-demo
