// chart-lint: the PrometheusRule the chart renders carries exactly files/prometheus-rules.yaml
// (the file promtool tests), and every dashboard ConfigMap holds valid dashboard JSON.
// Usage: node hack/chart-monitoring-check.mjs <rendered.yaml> <chart dir>
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';

const [rendered, chartDir] = process.argv.slice(2);
const docs = YAML.parseAllDocuments(readFileSync(rendered, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const fail = (msg) => {
  console.error(`chart-lint: ${msg}`);
  process.exit(1);
};
const rules = YAML.parse(readFileSync(path.join(chartDir, 'files', 'prometheus-rules.yaml'), 'utf8'));
const pr = docs.find((d) => d.kind === 'PrometheusRule');
if (!pr) fail('PrometheusRule missing');
if (!isDeepStrictEqual(pr.spec, rules)) fail('the PrometheusRule spec differs from files/prometheus-rules.yaml');
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
const runbook = readFileSync(path.join(chartDir, '..', '..', 'docs', 'runbook.md'), 'utf8');
for (const a of alerts) {
  if (!a.annotations?.summary) fail(`alert ${a.alert} has no summary`);
  if (a.annotations?.runbook !== `docs/runbook.md#${a.alert.toLowerCase()}`) fail(`alert ${a.alert}: runbook annotation must be docs/runbook.md#${a.alert.toLowerCase()}`);
  if (!new RegExp(`^## ${a.alert}$`, 'm').test(runbook)) fail(`docs/runbook.md has no "## ${a.alert}" section`);
}
const files = readdirSync(path.join(chartDir, 'files', 'dashboards')).filter((f) => f.endsWith('.json'));
const cms = docs.filter((d) => d.kind === 'ConfigMap' && d.metadata?.labels?.grafana_dashboard === '1');
for (const f of files) {
  const cm = cms.find((c) => c.data && f in c.data);
  if (!cm) fail(`no dashboard ConfigMap carries ${f}`);
  let dash;
  try {
    dash = JSON.parse(cm.data[f]);
  } catch (e) {
    fail(`${f} in its ConfigMap is not JSON: ${e}`);
  }
  if (!dash.title || !Array.isArray(dash.panels) || dash.panels.length === 0) fail(`${f}: a dashboard needs a title and panels`);
}
console.log(`chart-lint: PrometheusRule = files/prometheus-rules.yaml (${alerts.length} alerts, each with a runbook section); ${files.length} dashboard(s)`);
