#!/usr/bin/env bash
# Java-side exporters for the metrics the operator renders, from Maven Central, cached outside the
# repo (never committed):
#   $CACHETIER_CACHE/metrics/jmx_prometheus_javaagent.jar  Kafka's Prometheus JMX exporter agent
#   $CACHETIER_CACHE/metrics/zookeeper/*.jar               ZooKeeper's Prometheus metrics provider
#                                                          + its runtime deps (simpleclient) and the
#                                                          Jetty ZooKeeper 3.8.4 builds on, which
#                                                          Kafka's runtime (the local ZooKeeper's
#                                                          classpath) leaves out
# The zookeeper:3.8.x image ships the provider in its lib/; the local tier (hack/local) and the
# stand-in image (workloads/zookeeper) add these jars to the ZooKeeper classpath. 3.8.3 is the
# newest 3.8 provider Maven Central serves here; its MetricsProvider API is the one 3.8.4 loads.
# Run by `make deps` and by `make test-integration-metrics` when the jars are missing.
set -euo pipefail
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
JMX_VERSION="${JMX_EXPORTER_VERSION:-1.0.1}"
ZK_METRICS_VERSION="${ZK_METRICS_VERSION:-3.8.3}"
JETTY_VERSION="${JETTY_VERSION:-9.4.53.v20231009}"
DIR="$CACHETIER_CACHE/metrics"
STAMP="$DIR/.complete-$JMX_VERSION-$ZK_METRICS_VERSION-$JETTY_VERSION"
if [ -f "$STAMP" ] && [ -f "$DIR/jmx_prometheus_javaagent.jar" ] && ls "$DIR"/zookeeper/zookeeper-prometheus-metrics-*.jar >/dev/null 2>&1; then
  echo "40-metrics: exporter jars present in $DIR"
  exit 0
fi
command -v mvn >/dev/null || { echo "40-metrics: mvn is required (apt-get install maven)" >&2; exit 1; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cachetier-metrics-deps.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.cachetier.local</groupId>
  <artifactId>metrics-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.zookeeper</groupId>
      <artifactId>zookeeper-prometheus-metrics</artifactId>
      <version>${ZK_METRICS_VERSION}</version>
      <exclusions>
        <!-- the server's own jars come from its classpath -->
        <exclusion><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId></exclusion>
        <exclusion><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper-jute</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>io.netty</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.eclipse.jetty</groupId>
      <artifactId>jetty-servlet</artifactId>
      <version>${JETTY_VERSION}</version>
    </dependency>
  </dependencies>
</project>
POM
echo "40-metrics: resolving zookeeper-prometheus-metrics:${ZK_METRICS_VERSION} and jmx_prometheus_javaagent:${JMX_VERSION}"
rm -rf "$DIR.tmp"
mkdir -p "$DIR.tmp/zookeeper" "$CACHETIER_CACHE/m2"
mvn -B -q -f "$WORK/pom.xml" -Dmaven.repo.local="$CACHETIER_CACHE/m2" \
  org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$DIR.tmp/zookeeper"
mvn -B -q -Dmaven.repo.local="$CACHETIER_CACHE/m2" \
  org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
  -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:${JMX_VERSION}" -DoutputDirectory="$DIR.tmp" -Dmdep.stripVersion=true
rm -rf "$DIR"
mv "$DIR.tmp" "$DIR"
ls "$DIR"/zookeeper/zookeeper-prometheus-metrics-*.jar >/dev/null
touch "$STAMP"
echo "40-metrics: $(ls "$DIR/zookeeper" | wc -l) ZooKeeper provider jars, jmx_prometheus_javaagent.jar in $DIR"
