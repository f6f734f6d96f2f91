// Kubernetes Events about a CacheTier (core/v1, involvedObject = the CacheTier). The reconciler
// only calls this on state changes. The same event repeated within ten minutes bumps the count
// of the existing Event instead of creating a new one, as client-go's recorder does.
import type { CacheTier } from '../api/types.js';
import type { EventBody, KubeClient } from './kube.js';
import { describeError } from './kube.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export interface EventRecorderOptions {
  component?: string;
  instance?: string;
  now?: () => Date;
  log?: Logger;
}

export interface Recorder {
  event(tier: CacheTier, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

const AGGREGATE_MS = 10 * 60_000;

export class EventRecorder implements Recorder {
  private readonly recent = new Map<string, { name: Promise<string>; count: number; at: number }>();
  private readonly component: string;
  private readonly instance: string;
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly kube: KubeClient, opts: EventRecorderOptions = {}) {
    this.component = opts.component ?? 'cachetier-operator';
    this.instance = opts.instance ?? 'cachetier-operator';
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? silentLogger;
  }

  /**
   * Never throws: an event that can't be written is logged, not fatal. Safe to call without
   * awaiting: a repeat of an event whose create is still in flight waits for its name and bumps
   * its count instead of creating a second Event.
   */
  async event(tier: CacheTier, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const ns = tier.metadata.namespace;
    const now = this.now();
    const key = `${tier.metadata.uid}\0${type}\0${reason}\0${message}`;
    const seen = this.recent.get(key);
    this.log.info({ tier: `${ns}/${tier.metadata.name}`, eventType: type, reason, msg: message }, 'event');
    if (seen && now.getTime() - seen.at < AGGREGATE_MS) {
      seen.count += 1;
      seen.at = now.getTime();
      const count = seen.count;
      try {
        const name = await seen.name;
        if (name) {
          await this.kube.patchEvent(ns, name, { count, lastTimestamp: now.toISOString() });
          return;
        }
      } catch (err) {
        if (this.recent.get(key) === seen) this.recent.delete(key);
        this.log.warn({ err: describeError(err), reason }, 'could not write event');
        return;
      }
      // The first create failed: fall through and create afresh.
    }
    const body: EventBody = {
      metadata: { generateName: `${tier.metadata.name}.`, namespace: ns },
      involvedObject: {
        apiVersion: tier.apiVersion,
        kind: tier.kind,
        name: tier.metadata.name,
        namespace: ns,
        uid: tier.metadata.uid,
      },
      reason,
      message: message.slice(0, 1024),
      type,
      count: 1,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
    // Registered before the request goes out, so concurrent repeats find it.
    const name = this.kube.createEvent(body).catch((err: unknown) => {
      this.log.warn({ err: describeError(err), reason }, 'could not write event');
      return '';
    });
    const entry = { name, count: 1, at: now.getTime() };
    this.recent.set(key, entry);
    if (this.recent.size > 1000) {
      for (const [k, v] of this.recent) if (now.getTime() - v.at >= AGGREGATE_MS) this.recent.delete(k);
    }
    if (!(await name) && this.recent.get(key) === entry) this.recent.delete(key);
  }
}
