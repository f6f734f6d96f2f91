// Pure topic planning: given the desired topics (spec.kafka.topics) and what Kafka reports, decide
// what to create, grow and re-configure, and what to refuse. No I/O here, so every decision is
// unit-tested; operator/src/kafka/index.ts observes Kafka, runs the plan and reports.
import type { TopicSpec, TopicStatus } from '../api/types.js';
import type { ConditionUpdate, OrchestrationEvent } from '../orchestration/types.js';

export const TOPICS_CONDITION = 'TopicsReady';

/** What Kafka reports about one existing topic. */
export interface ObservedTopic {
  name: string;
  partitions: number;
  /** Largest replica set over the topic's partitions. */
  replicationFactor: number;
  /** Topic-level overrides (config source TOPIC_CONFIG). */
  overrides: Record<string, string>;
  /** Effective value of every topic config Kafka described (overrides + broker defaults). */
  effective: Record<string, string>;
  /** Partitions without a leader. */
  leaderless: number[];
  /** Partitions whose ISR is smaller than the topic's min.insync.replicas (acks=all would fail). */
  underMinIsr: number[];
  /** Replica broker ids per partition, index = partition id (first = preferred leader). */
  assignment?: number[][];
  /** Partitions with a replica reassignment in progress. */
  reassigning?: number[];
}

export type ProblemReason =
  | 'InvalidTopicSpec'
  | 'InsufficientBrokers'
  | 'PartitionShrinkRefused'
  | 'ReplicationFactorMismatch'
  | 'ReplicationFactorChanging';

export interface TopicProblem {
  topic: string;
  reason: ProblemReason;
  message: string;
}

export type TopicAction =
  | { kind: 'create'; topic: string; partitions: number; replicationFactor: number; config: Record<string, string> }
  | { kind: 'grow'; topic: string; from: number; to: number }
  | {
      kind: 'reassign';
      topic: string;
      from: number;
      to: number;
      /** New replica list for every partition that changes. */
      partitions: { partition: number; replicas: number[] }[];
    }
  | {
      kind: 'alterConfig';
      topic: string;
      /**
       * The complete override set to send. Kafka's AlterConfigs (the API kafkajs speaks) replaces a
       * topic's overrides as a whole, so this is spec.config plus preserved keys.
       */
      entries: Record<string, string>;
      /** Keys whose effective value differs from the spec: "key: old -> new". */
      changed: string[];
      /** Overrides not in the spec that the alter removes (back to the broker default). */
      removed: string[];
    };

export interface TopicPlan {
  topic: string;
  actions: TopicAction[];
  problems: TopicProblem[];
}

/**
 * Overrides the operator keeps even though the spec doesn't name them: replication throttles are
 * set by `kafka-reassign-partitions.sh --throttle` during a manual reassignment (the documented fix
 * for a replication-factor change) and must survive our config reconcile.
 */
export const PRESERVED_OVERRIDES = ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'];

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function validateTopic(t: TopicSpec): string[] {
  const errs: string[] = [];
  if (!LEGAL_TOPIC_NAME.test(t.name) || t.name === '.' || t.name === '..') {
    errs.push(`name "${t.name}" is not a legal Kafka topic name (1-249 of [a-zA-Z0-9._-], not "." or "..")`);
  }
  if (!Number.isInteger(t.partitions) || t.partitions < 1) errs.push(`partitions must be an integer >= 1 (got ${t.partitions})`);
  if (!Number.isInteger(t.replicationFactor) || t.replicationFactor < 1 || t.replicationFactor > 32767) {
    errs.push(`replicationFactor must be an integer >= 1 (got ${t.replicationFactor})`);
  }
  return errs;
}

function stringConfig(c: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(c ?? {})) out[k] = String(v).trim();
  return out;
}

/** Config changes needed to make the topic's overrides equal spec.config (plus preserved keys). */
export function planConfig(
  topic: string,
  desiredRaw: Record<string, string>,
  observed: Pick<ObservedTopic, 'overrides' | 'effective'>,
): Extract<TopicAction, { kind: 'alterConfig' }> | null {
  const desired = stringConfig(desiredRaw);
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [k, v] of Object.entries(desired)) {
    const current = observed.overrides[k] ?? observed.effective[k];
    if (current !== v) changed.push(`${k}: ${current ?? '(unset)'} -> ${v}`);
  }
  const entries: Record<string, string> = { ...desired };
  for (const [k, v] of Object.entries(observed.overrides)) {
    if (k in desired) continue;
    if (PRESERVED_OVERRIDES.includes(k)) entries[k] = v;
    else removed.push(k);
  }
  if (changed.length === 0 && removed.length === 0) return null;
  return { kind: 'alterConfig', topic, entries, changed, removed };
}

/**
 * New replica lists giving every partition `rf` replicas. Existing replicas stay in place and in
 * order (the first is the preferred leader), so only the difference moves: growing appends the
 * brokers holding the fewest replicas of this topic (ties: rotate by partition so leaders' followers
 * spread); shrinking drops replicas from the end, never the preferred leader.
 */
export function planReplicas(assignment: number[][], rf: number, brokerIds: number[]): { partition: number; replicas: number[] }[] {
  const load = new Map<number, number>(brokerIds.map((b) => [b, 0]));
  for (const reps of assignment) for (const b of reps) load.set(b, (load.get(b) ?? 0) + 1);
  const sorted = [...brokerIds].sort((a, b) => a - b);
  const out: { partition: number; replicas: number[] }[] = [];
  assignment.forEach((current, partition) => {
    let next = [...current];
    if (next.length > rf) {
      for (const b of next.slice(rf)) load.set(b, (load.get(b) ?? 1) - 1);
      next = next.slice(0, rf);
    }
    while (next.length < rf) {
      const candidates = sorted
        .map((b, i) => ({ b, rot: (i - partition + sorted.length * 1000) % sorted.length }))
        .filter(({ b }) => !next.includes(b))
        .sort((x, y) => (load.get(x.b) ?? 0) - (load.get(y.b) ?? 0) || x.rot - y.rot);
      if (!candidates.length) break;
      next.push(candidates[0].b);
      load.set(candidates[0].b, (load.get(candidates[0].b) ?? 0) + 1);
    }
    if (next.length !== current.length || next.some((b, i) => b !== current[i])) out.push({ partition, replicas: next });
  });
  return out;
}

/**
 * Plans one reconcile. `brokerIds` = brokers registered now (a topic can't have more replicas than
 * there are brokers).
 */
export function planTopics(
  desired: TopicSpec[],
  observed: ReadonlyMap<string, ObservedTopic>,
  brokerIds: number[],
): TopicPlan[] {
  const brokerCount = brokerIds.length;
  const seen = new Set<string>();
  return desired.map((t) => {
    const plan: TopicPlan = { topic: t.name, actions: [], problems: [] };
    const errs = validateTopic(t);
    if (seen.has(t.name)) errs.push(`topic "${t.name}" is listed twice in spec.kafka.topics`);
    seen.add(t.name);
    if (errs.length) {
      plan.problems.push({ topic: t.name, reason: 'InvalidTopicSpec', message: `topic ${t.name}: ${errs.join('; ')}` });
      return plan;
    }
    const cur = observed.get(t.name);
    if (!cur) {
      if (t.replicationFactor > brokerCount) {
        plan.problems.push({
          topic: t.name,
          reason: 'InsufficientBrokers',
          message:
            `topic ${t.name} not created: replicationFactor ${t.replicationFactor} needs ${t.replicationFactor} brokers, ` +
            `${brokerCount} registered; it is created once enough brokers are up (or lower replicationFactor)`,
        });
        return plan;
      }
      plan.actions.push({
        kind: 'create',
        topic: t.name,
        partitions: t.partitions,
        replicationFactor: t.replicationFactor,
        config: stringConfig(t.config),
      });
      return plan;
    }
    if (t.partitions > cur.partitions) {
      plan.actions.push({ kind: 'grow', topic: t.name, from: cur.partitions, to: t.partitions });
    } else if (t.partitions < cur.partitions) {
      plan.problems.push({
        topic: t.name,
        reason: 'PartitionShrinkRefused',
        message:
          `topic ${t.name} has ${cur.partitions} partitions; the spec asks for ${t.partitions}. Kafka cannot remove ` +
          `partitions (their data would be lost and keys would move, breaking per-product order), so the operator ` +
          `keeps ${cur.partitions}. Fix: set partitions for ${t.name} in spec.kafka.topics to ${cur.partitions} or more; ` +
          `to really have fewer, create a new topic and move producers and consumers to it`,
      });
    }
    const rfDiffers = cur.assignment
      ? cur.assignment.some((r) => r.length !== t.replicationFactor)
      : t.replicationFactor !== cur.replicationFactor;
    if (cur.reassigning?.length) {
      plan.problems.push({
        topic: t.name,
        reason: 'ReplicationFactorChanging',
        message:
          `topic ${t.name}: replica reassignment in progress on partitions ${cur.reassigning.join(',')} ` +
          `(replication factor ${cur.replicationFactor} -> ${t.replicationFactor}); it completes once the new replicas catch up`,
      });
    } else if (rfDiffers) {
      const minIsr = Number(cur.effective['min.insync.replicas'] ?? '1');
      const refuse = (why: string) =>
        plan.problems.push({
          topic: t.name,
          reason: 'ReplicationFactorMismatch',
          message:
            `topic ${t.name} has replication factor ${cur.replicationFactor}; the spec asks for ${t.replicationFactor}. ` +
            `Not changed: ${why}. Partitions and config were still reconciled`,
        });
      if (t.replicationFactor > brokerCount) {
        refuse(`${t.replicationFactor} replicas need ${t.replicationFactor} brokers and ${brokerCount} are registered`);
      } else if (t.replicationFactor < minIsr) {
        refuse(
          `fewer replicas than the topic's min.insync.replicas (${minIsr}) would make every acks=all write fail; ` +
            `lower min.insync.replicas first or keep replicationFactor >= ${minIsr}`,
        );
      } else if (!cur.assignment) {
        refuse('the current replica assignment is unknown');
      } else {
        plan.actions.push({
          kind: 'reassign',
          topic: t.name,
          from: cur.replicationFactor,
          to: t.replicationFactor,
          partitions: planReplicas(cur.assignment, t.replicationFactor, brokerIds),
        });
      }
    }
    const alter = planConfig(t.name, t.config, cur);
    if (alter) plan.actions.push(alter);
    return plan;
  });
}

/** Outcome of running one topic's plan (index.ts fills it in). */
export interface TopicOutcome {
  plan: TopicPlan;
  /** Actions that succeeded. */
  done: TopicAction[];
  /** Failures while acting: "create failed: ...". */
  errors: string[];
  /** Kafka's view after acting; undefined when the topic still doesn't exist. */
  after?: ObservedTopic;
}

// Most important first: the condition's reason is the first that applies.
const REASON_ORDER = [
  'InvalidTopicSpec',
  'TopicReconcileFailed',
  'InsufficientBrokers',
  'PartitionShrinkRefused',
  'ReplicationFactorMismatch',
  'ReplicationFactorChanging',
  'TopicsNotReady',
] as const;

export function describeAction(a: TopicAction): { reason: string; message: string } {
  switch (a.kind) {
    case 'create':
      return {
        reason: 'TopicCreated',
        message: `created topic ${a.topic}: ${a.partitions} partitions, replication factor ${a.replicationFactor}`,
      };
    case 'grow':
      return { reason: 'TopicPartitionsIncreased', message: `topic ${a.topic}: partitions ${a.from} -> ${a.to}` };
    case 'reassign':
      return {
        reason: 'TopicReplicationFactorChanging',
        message:
          `topic ${a.topic}: replication factor ${a.from} -> ${a.to}: reassigning ${a.partitions.length} partitions ` +
          `(${a.partitions.map((p) => `${p.partition}:[${p.replicas.join(',')}]`).join(' ')})`,
      };
    case 'alterConfig': {
      const parts = [...a.changed.map((c) => `set ${c}`), ...a.removed.map((k) => `removed override ${k}`)];
      return { reason: 'TopicConfigUpdated', message: `topic ${a.topic}: ${parts.join('; ')}` };
    }
  }
}

/** Turns outcomes into TopicStatus[], the TopicsReady condition and events. */
export function summarize(outcomes: TopicOutcome[]): {
  topics: TopicStatus[];
  condition: ConditionUpdate;
  events: OrchestrationEvent[];
} {
  const events: OrchestrationEvent[] = [];
  const reasons = new Set<string>();
  const messages: string[] = [];
  const topics: TopicStatus[] = outcomes.map((o) => {
    for (const a of o.done) events.push({ type: 'Normal', ...describeAction(a) });
    const notes: string[] = [];
    for (const p of o.plan.problems) {
      events.push({ type: 'Warning', reason: p.reason, message: p.message });
      reasons.add(p.reason);
      messages.push(p.message);
      notes.push(p.message);
    }
    for (const e of o.errors) {
      const msg = `topic ${o.plan.topic}: ${e}`;
      events.push({ type: 'Warning', reason: 'TopicReconcileFailed', message: msg });
      reasons.add('TopicReconcileFailed');
      messages.push(msg);
      notes.push(e);
    }
    const a = o.after;
    const reassign = o.done.find((d) => d.kind === 'reassign');
    if (reassign && a && (a.reassigning?.length || (a.assignment ?? []).some((r) => r.length !== reassign.to))) {
      const msg =
        `topic ${o.plan.topic}: replication factor ${reassign.from} -> ${reassign.to} in progress` +
        `${a.reassigning?.length ? ` (partitions ${a.reassigning.join(',')} still moving)` : ''}; it completes once the new replicas catch up`;
      reasons.add('ReplicationFactorChanging');
      messages.push(msg);
      notes.push(msg);
    }
    let ready = false;
    if (!a) {
      if (!notes.length) notes.push('topic does not exist yet');
    } else if (a.leaderless.length) {
      notes.push(`partitions without a leader: ${a.leaderless.join(',')}`);
    } else if (a.underMinIsr.length) {
      notes.push(
        `partitions with fewer in-sync replicas than min.insync.replicas (${a.effective['min.insync.replicas'] ?? '?'}): ` +
          `${a.underMinIsr.join(',')}; acks=all producers fail until replicas catch up`,
      );
    } else {
      ready = true;
    }
    if (!ready && a && !o.plan.problems.length && !o.errors.length) {
      reasons.add('TopicsNotReady');
      messages.push(`topic ${o.plan.topic}: ${notes.join('; ')}`);
    }
    return {
      name: o.plan.topic,
      partitions: a?.partitions ?? 0,
      replicationFactor: a?.replicationFactor ?? 0,
      ready,
      message: notes.length ? notes.join('; ') : 'ready',
    };
  });
  if (outcomes.some((o) => !o.after && !o.plan.problems.length && !o.errors.length)) {
    reasons.add('TopicsNotReady');
    messages.push('some topics do not exist yet');
  }
  let condition: ConditionUpdate;
  const reason = REASON_ORDER.find((r) => reasons.has(r));
  if (!reason) {
    condition = {
      type: TOPICS_CONDITION,
      status: 'True',
      reason: 'TopicsReady',
      message: `${topics.length} topics as specified: ${topics
        .map((t) => `${t.name} (${t.partitions} partitions, RF ${t.replicationFactor})`)
        .join(', ')}`,
    };
  } else {
    condition = { type: TOPICS_CONDITION, status: 'False', reason, message: messages.join(' | ') };
  }
  return { topics, condition, events };
}
