#!/bin/sh
# kafka-server-start.sh <server.properties> [--override k=v ...], as upstream's script runs it:
# KAFKA_HEAP_OPTS (default -Xmx1G -Xms1G), KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS, LOG_DIR.
set -eu
[ $# -ge 1 ] || { echo "USAGE: $0 server.properties [--override property=value]*" >&2; exit 1; }
log_dir="${LOG_DIR:-/opt/kafka/logs}"
mkdir -p "$log_dir" 2>/dev/null || true
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true} \
  -Dkafka.logs.dir="$log_dir" \
  -Dlog4j.configuration="${KAFKA_LOG4J_CONFIG:-file:/opt/kafka/config/log4j.properties}" \
  ${KAFKA_OPTS:-} \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$@"
