// PodMonitors (Prometheus Operator, monitoring.coreos.com/v1), one per component that exports
// metrics, so a Prometheus run by the Prometheus Operator scrapes the tier with the jobs the shipped
// alerts and dashboards expect (docs/runbook.md#scrape-config):
//   ZooKeeper  port metrics (7000)  job cachetier-zookeeper   }
//   Kafka      port metrics (9404)  job cachetier-kafka       } with spec.metrics.enabled
//   Redis      port metrics (9121)  job cachetier-redis       } (the exporter sidecar's port)
//   producer   port metrics (9464)  job cachetier-producer
//   OpenResty  port metrics (9145)  job cachetier-openresty (distribution and app layer)
// Rendered only when the cluster serves the PodMonitor API (RenderContext.podMonitorApi, found by
// discovery at operator startup) and spec.metrics.podMonitor.enabled is not false.
import type { LabelSelector, ResolvedCacheTier } from '../api/types.js';
import { objectMeta, selectorLabels } from './common.js';
import type { RenderContext } from './builders.js';
import type { Component } from './names.js';
import type { KubeObject } from './object.js';

export const POD_MONITOR_API_VERSION = 'monitoring.coreos.com/v1';
export const POD_MONITOR_KIND = 'PodMonitor';

/** The components that get a PodMonitor, in render order (the same order as COMPONENTS). */
export const POD_MONITOR_COMPONENTS: readonly Component[] = ['zookeeper', 'kafka', 'redis', 'producer', 'openresty-distribution', 'openresty-app'];

export interface Relabeling {
  targetLabel: string;
  replacement?: string;
  sourceLabels?: string[];
  action?: 'replace';
}
export interface PodMetricsEndpoint {
  port: string;
  path: string;
  relabelings: Relabeling[];
}
export interface RenderedPodMonitor extends KubeObject {
  apiVersion: typeof POD_MONITOR_API_VERSION;
  kind: typeof POD_MONITOR_KIND;
  metadata: KubeObject['metadata'] & { namespace: string };
  spec: { selector: LabelSelector; podMetricsEndpoints: PodMetricsEndpoint[] };
}

/** The scrape job a component's metrics land in (what the rules' `up{job=~"cachetier-<x>.*"}` match). */
export function scrapeJob(c: Component): string {
  return c.startsWith('openresty-') ? 'cachetier-openresty' : `cachetier-${c}`;
}

/** Components whose metrics come from an exporter that spec.metrics.enabled switches. */
const EXPORTERS: ReadonlySet<Component> = new Set(['zookeeper', 'kafka', 'redis']);

/** The container port that serves a component's /metrics: every component names it `metrics`. */
export function metricsPortName(_c: Component): string {
  return 'metrics';
}

/** Whether this tier gets PodMonitors: the API exists and the CR does not turn them off. */
export function podMonitorsWanted(tier: ResolvedCacheTier, podMonitorApi: boolean): boolean {
  return podMonitorApi && tier.spec.metrics.podMonitor.enabled !== false;
}

/** The components whose PodMonitor this tier wants now (exporters only with spec.metrics.enabled). */
export function podMonitorComponents(tier: ResolvedCacheTier, podMonitorApi: boolean): Component[] {
  if (!podMonitorsWanted(tier, podMonitorApi)) return [];
  return POD_MONITOR_COMPONENTS.filter((c) => tier.spec.metrics.enabled || !EXPORTERS.has(c));
}

export function podMonitor(tier: ResolvedCacheTier, c: Component): RenderedPodMonitor {
  const meta = objectMeta(tier, c);
  return {
    apiVersion: POD_MONITOR_API_VERSION,
    kind: POD_MONITOR_KIND,
    // The user's labels first: the operator's own (selector and ownership) always win.
    metadata: { ...meta, labels: { ...tier.spec.metrics.podMonitor.labels, ...meta.labels } },
    spec: {
      selector: { matchLabels: selectorLabels(tier, c) },
      podMetricsEndpoints: [
        {
          port: metricsPortName(c),
          path: '/metrics',
          relabelings: [
            // The job names the alerts and dashboards match (not the default <namespace>/<name>).
            { targetLabel: 'job', replacement: scrapeJob(c), action: 'replace' },
            { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], targetLabel: 'cachetier', action: 'replace' },
          ],
        },
      ],
    },
  };
}

/** One PodMonitor per component that exports metrics; none without the API or when turned off. */
export function renderPodMonitors(tier: ResolvedCacheTier, ctx: Pick<RenderContext, 'podMonitorApi'>): RenderedPodMonitor[] {
  return podMonitorComponents(tier, ctx.podMonitorApi === true).map((c) => podMonitor(tier, c));
}
