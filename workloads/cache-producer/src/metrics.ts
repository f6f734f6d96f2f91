import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cachetier_producer_' });
  const p = 'cachetier_producer_';
  return {
    registry,
    consumed: new Counter({ name: `${p}messages_consumed_total`, help: 'cache-message messages consumed', registers: [registry] }),
    coalesced: new Counter({ name: `${p}messages_coalesced_total`, help: 'messages folded into a newer one of the same batch', registers: [registry] }),
    written: new Counter({ name: `${p}redis_written_total`, help: 'records written to Redis (CAS won)', labelNames: ['kind', 'origin'] as const, registers: [registry] }),
    staleSkipped: new Counter({ name: `${p}stale_skipped_total`, help: 'writes refused by the CAS (older or same version)', labelNames: ['result'] as const, registers: [registry] }),
    deadLettered: new Counter({ name: `${p}dead_lettered_total`, help: 'messages sent to the dead-letter topic', labelNames: ['reason'] as const, registers: [registry] }),
    lockWait: new Histogram({ name: `${p}lock_wait_seconds`, help: 'time to acquire the ZooKeeper lock', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    zkBatchOps: new Histogram({ name: `${p}zookeeper_multi_ops`, help: 'lock-node creates or deletes per ZooKeeper multi transaction', labelNames: ['op'] as const, buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers: [registry] }),
    lag: new Histogram({ name: `${p}end_to_end_lag_seconds`, help: 'now - message timestamp when its write completed', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    batchDelivery: new Histogram({ name: `${p}batch_delivery_seconds`, help: 'now - newest message timestamp when a cache-message batch reaches the producer (Kafka side of the lag)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    batchProcessing: new Histogram({ name: `${p}batch_processing_seconds`, help: 'time to process one cache-message batch (its jobs and the offset resolve; commits run separately)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    hits: new Counter({ name: `${p}http_hits_total`, help: 'HTTP reads by the level that answered', labelNames: ['level'] as const, registers: [registry] }),
    sourceCalls: new Counter({ name: `${p}source_calls_total`, help: 'HTTP calls to source services', registers: [registry] }),
    jobErrors: new Counter({ name: `${p}job_errors_total`, help: 'failed attempts at a job (retried)', labelNames: ['error'] as const, registers: [registry] }),
    locksLost: new Counter({ name: `${p}locks_lost_total`, help: 'locks lost to a ZooKeeper session loss (work retried)', registers: [registry] }),
    accessLogs: new Counter({ name: `${p}access_log_records_total`, help: 'access-log records counted', labelNames: ['result'] as const, registers: [registry] }),
    consumerUp: new Gauge({ name: `${p}kafka_consumer_up`, help: '1 while the consumer is in its group with a recent heartbeat (Kafka trouble shows here, not in readiness)', labelNames: ['consumer'] as const, registers: [registry] }),
    replicationWaitTimeouts: new Counter({ name: `${p}replication_wait_timeouts_total`, help: 'batches whose writes did not reach a replica within the bound before their offsets were committed', registers: [registry] }),
    consumerLag: new Gauge({ name: `${p}consumer_lag_messages`, help: 'cache-message messages behind the partition end, as of the last batch fetched (this batch included while it runs)', labelNames: ['topic', 'partition'] as const, registers: [registry] }),
    hotProducts: new Gauge({ name: `${p}hot_products`, help: 'products currently flagged hot', registers: [registry] }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
