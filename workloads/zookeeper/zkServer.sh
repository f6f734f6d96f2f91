#!/bin/sh
# The one zkServer.sh mode the operator's pods use: `zkServer.sh start-foreground [zoo.cfg]`.
# ZK_SERVER_HEAP (MiB, default 1000), ZOO_LOG_DIR and JVMFLAGS as in upstream's script.
set -eu
if [ "${1:-}" != start-foreground ]; then
  echo "zkServer.sh (cachetier image): only 'start-foreground [zoo.cfg]' is supported" >&2
  exit 2
fi
cfg="${2:-/conf/zoo.cfg}"
# shellcheck disable=SC2086
exec java -Xmx"${ZK_SERVER_HEAP:-1000}"m ${JVMFLAGS:-} \
  -Dzookeeper.log.dir="${ZOO_LOG_DIR:-/logs}" \
  -Dlog4j.configuration=file:/opt/zookeeper/conf/log4j.properties \
  -cp '/opt/zookeeper/lib/*' \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"
