// The producer pods' own view of Kafka, read from their /readyz detail: a producer stays ready
// while Kafka is down (it still serves L3 reads from Redis and the sources), so the Deployment's
// readiness cannot show that changes have stopped flowing. The reconciler turns this into the
// ChangesFlowing condition.
import type { ProducerPodHealth, ProducerProbe } from '../orchestration/types.js';

export function createProducerProbe(opts: { timeoutMs?: number } = {}): ProducerProbe {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return {
    health: (pods) =>
      Promise.all(
        pods.map(async ({ pod, host, port }): Promise<ProducerPodHealth> => {
          const h = host.includes(':') ? `[${host}]` : host;
          try {
            // /readyz answers 200 or 503 with the same JSON detail; both are an answer.
            const res = await fetch(`http://${h}:${port}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
            const body = (await res.json()) as Record<string, unknown>;
            if (typeof body !== 'object' || body === null) return { pod, error: `/readyz: HTTP ${res.status}, not a JSON object` };
            return { pod, changes: body.kafka === true, accessLog: body.accessLog === true };
          } catch (err) {
            return { pod, error: `/readyz: ${err instanceof Error ? err.message : String(err)}` };
          }
        }),
      ),
  };
}
