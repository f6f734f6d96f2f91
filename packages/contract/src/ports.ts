// Ports every side agrees on: the operator renders Services and configs with them, the
// workloads listen on them, the local harness (hack/local) starts servers on them.

export const REDIS_PORT = 6379;
export const KAFKA_PORT = 9092;
export const ZK_PORTS = { client: 2181, peer: 2888, election: 3888 } as const;
/** The cache-producer's HTTP API (L3 for the OpenResty app layer), /healthz and /readyz. */
export const PRODUCER_HTTP_PORT = 8080;
/** Both OpenResty layers listen here (data path and /healthz). */
export const OPENRESTY_PORT = 8080;
/**
 * /metrics of the producer and of both OpenResty layers: a port of its own, named `metrics`, that
 * only spec.networkPolicy.monitoring may reach. The public ports above answer /metrics with 404.
 */
export const HTTP_METRICS_PORTS = { producer: 9464, openresty: 9145 } as const;
/** Prometheus exporters the operator renders (spec.metrics), each on a container port named `metrics`. */
export const METRICS_PORTS = { zookeeper: 7000, kafka: 9404, redisExporter: 9121 } as const;
