#!/usr/bin/env bash
# Apache Kafka 3.9.1 broker (ZooKeeper mode) for the integration tier, from Maven Central.
# Result: $CACHETIER_CACHE/kafka-3.9.1/libs/*.jar (kafka_2.13 + runtime deps, which include
# ZooKeeper 3.8.4 — the same line as the zookeeper:3.8.x image — and slf4j-reload4j/reload4j so
# both servers log through one log4j config) and $CACHETIER_CACHE/kafka-3.9.1/config/log4j.properties.
# The Maven repository is cached in $CACHETIER_CACHE/m2, so a rerun is a no-op / fast.
# Run by `make deps` (hack/deps.sh) and by `make test-integration-kafka` when the jars are missing.
set -euo pipefail
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
SCALA_VERSION=2.13
HOME_DIR="$CACHETIER_CACHE/kafka-$KAFKA_VERSION"
LIBS="$HOME_DIR/libs"
STAMP="$HOME_DIR/.complete"

write_log4j() {
  mkdir -p "$HOME_DIR/config"
  # Console appender at INFO: the harness captures stdout/stderr into one log file per server.
  cat >"$HOME_DIR/config/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Quiet the noisiest loggers (same choices as Kafka's shipped config).
log4j.logger.org.apache.zookeeper=INFO
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.kafka.log.LogCleaner=INFO
log4j.logger.state.change.logger=INFO
log4j.logger.kafka.authorizer.logger=WARN
PROPS
}

if [ -f "$STAMP" ] && ls "$LIBS"/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar >/dev/null 2>&1; then
  write_log4j
  echo "30-kafka: Kafka $KAFKA_VERSION jars present in $LIBS"
  exit 0
fi

command -v mvn >/dev/null || { echo "30-kafka: mvn is required (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "30-kafka: java is required (openjdk-17-jre-headless)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/cachetier-kafka-deps.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# A throwaway pom whose only purpose is `dependency:copy-dependencies`.
cat >"$WORK/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.cachetier.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
      <exclusions>
        <!-- one slf4j binding only: reload4j below -->
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>logback-classic</artifactId></exclusion>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>logback-core</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>1.2.25</version>
    </dependency>
  </dependencies>
</project>
POM

echo "30-kafka: resolving org.apache.kafka:kafka_${SCALA_VERSION}:${KAFKA_VERSION} + runtime deps from Maven Central"
rm -rf "$LIBS.tmp"
mkdir -p "$LIBS.tmp" "$CACHETIER_CACHE/m2"
mvn -B -q -f "$WORK/pom.xml" \
  -Dmaven.repo.local="$CACHETIER_CACHE/m2" \
  org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp"
rm -rf "$LIBS"
mv "$LIBS.tmp" "$LIBS"
write_log4j
ls "$LIBS"/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar >/dev/null
ls "$LIBS"/zookeeper-3.*.jar >/dev/null || { echo "30-kafka: no zookeeper jar in $LIBS" >&2; exit 1; }
touch "$STAMP"
echo "30-kafka: $(ls "$LIBS" | wc -l) jars in $LIBS"
