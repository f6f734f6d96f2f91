// Shell commands run inside a Redis member's container (pure; render/redis.ts wires them in):
//
// - readiness: what "Ready" means for a cluster member, so operator-driven rolls (roll/plan-redis.ts)
//   only move on once a restarted member serves again;
// - preStop: a master that is deleted for any reason other than a roll (node drain, eviction, a
//   manual delete) first hands its slots to an in-sync replica, so its slots are not offline for
//   the cluster-node-timeout plus the failure detection of an unplanned failover.
//
// Passwords are files (the ACL Secret's volume); the shell reads them into REDISCLI_AUTH, so no
// password is ever on a command line (ps) or in the pod spec. Both scripts are POSIX sh with
// redis-cli, sed, awk and tr: what the upstream redis image (Debian) has.
import { REDIS_PORT } from '../../../../packages/contract/src/index.js';

/** ACL rules the readiness probe's user needs (the rendered `monitoring` user has them). */
export const REDIS_READINESS_ACL_RULES = ['+ping', '+info', '+cluster|info'] as const;
/**
 * ACL rules the preStop hook's user needs, on its own member and on the replica it hands over to.
 * No rendered user except the admin has +cluster|failover today: the hook needs such a user (or
 * these rules added to one whose password the pod already holds, e.g. `replication`).
 */
export const REDIS_PRESTOP_ACL_RULES = ['+info', '+cluster|nodes', '+cluster|failover'] as const;

export interface RedisProbeAuth {
  /** ACL user the script authenticates as. */
  user: string;
  /** File holding that user's password (a mounted Secret key). */
  passwordFile: string;
  /** The member's address from inside its container (default 127.0.0.1). */
  host?: string;
  port?: number;
}

/** Single-quotes a value for sh. */
export function shq(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function preamble(a: RedisProbeAuth): string[] {
  return [
    `export REDISCLI_AUTH="$(cat ${shq(a.passwordFile)})"`,
    // `T`: a bound on every call (coreutils timeout), so an unreachable peer cannot hang the hook.
    'if command -v timeout >/dev/null 2>&1; then T="timeout 5"; else T=""; fi',
    `at() { h="$1"; p="$2"; shift 2; $T redis-cli --no-auth-warning --user ${shq(a.user)} -h "$h" -p "$p" "$@" 2>&1 | tr -d '\\r'; }`,
    `me() { at ${shq(a.host ?? '127.0.0.1')} ${a.port ?? REDIS_PORT} "$@"; }`,
    // field "<INFO text>" name: the value of "name:value".
    `field() { printf '%s\\n' "$1" | sed -n "s/^$2:\\(.*\\)$/\\1/p" | head -n 1; }`,
  ];
}

/**
 * Readiness: PING answers PONG (not LOADING, not an auth error). A member that is part of a formed
 * cluster (it knows other nodes, or slots are assigned in its view) must also report
 * cluster_state:ok, and a replica master_link_status:up. A fresh member (knows only itself, no
 * slots) is ready on PONG alone: Redis reports cluster_state:fail for it, and the operator forms
 * the cluster over running members whatever their readiness.
 */
export function redisReadinessScript(a: RedisProbeAuth): string {
  return [
    ...preamble(a),
    'pong="$(me ping)"',
    'if [ "$pong" != PONG ]; then echo "PING: $pong"; exit 1; fi',
    'ci="$(me cluster info)"',
    'known="$(field "$ci" cluster_known_nodes)"',
    'assigned="$(field "$ci" cluster_slots_assigned)"',
    'case "$known" in ""|*[!0-9]*) echo "CLUSTER INFO: $ci"; exit 1;; esac',
    'case "$assigned" in ""|*[!0-9]*) echo "CLUSTER INFO: $ci"; exit 1;; esac',
    'if [ "$known" -le 1 ] && [ "$assigned" -eq 0 ]; then exit 0; fi',
    'state="$(field "$ci" cluster_state)"',
    'if [ "$state" != ok ]; then echo "cluster_state:$state"; exit 1; fi',
    'ri="$(me info replication)"',
    'role="$(field "$ri" role)"',
    'if [ "$role" = slave ]; then link="$(field "$ri" master_link_status)"; if [ "$link" != up ]; then echo "master_link_status:$link"; exit 1; fi; fi',
    'if [ "$role" != master ] && [ "$role" != slave ]; then echo "INFO replication: $ri"; exit 1; fi',
    'exit 0',
  ].join('\n');
}

export function redisReadinessCommand(a: RedisProbeAuth): string[] {
  return ['sh', '-c', redisReadinessScript(a)];
}

/**
 * preStop: when this member is a master that owns slots, find a replica of it that the cluster
 * sees connected and that reports master_link_status:up, run CLUSTER FAILOVER (the coordinated
 * kind: this master pauses its clients until the replica has caught up, then the replica takes
 * the slots) there, and wait up to `waitSeconds` until this member reports role slave. Always
 * exits 0: a hook that fails must never keep a pod from stopping (an unplanned failover still
 * follows). The replica's address comes from CLUSTER NODES (its announced address), not from INFO
 * replication's slaveN:ip (the address its connection came from, which may be another interface).
 */
export function redisPreStopScript(a: RedisProbeAuth & { waitSeconds?: number }): string {
  const wait = a.waitSeconds ?? 20;
  return [
    ...preamble(a),
    'log() { echo "preStop: $*"; }',
    'role="$(field "$(me info replication)" role)"',
    'if [ "$role" != master ]; then log "role ${role:-unknown}: nothing to hand over"; exit 0; fi',
    'nodes="$(me cluster nodes)"',
    `myid="$(printf '%s\\n' "$nodes" | awk '$3 ~ /myself/ { print $1 }')"`,
    `slots="$(printf '%s\\n' "$nodes" | awk '$3 ~ /myself/ { print NF - 8 }')"`,
    'case "$slots" in ""|*[!0-9]*) log "CLUSTER NODES: $nodes"; exit 0;; esac',
    'if [ -z "$myid" ] || [ "$slots" -eq 0 ]; then log "owns no slot"; exit 0; fi',
    `for addr in $(printf '%s\\n' "$nodes" | awk -v m="$myid" '$4 == m && $3 ~ /slave/ && $3 !~ /fail/ && $8 == "connected" { split($2, a, "@"); print a[1] }'); do`,
    '  rh="${addr%:*}"; rp="${addr##*:}"',
    '  link="$(field "$(at "$rh" "$rp" info replication)" master_link_status)"',
    '  if [ "$link" != up ]; then log "$addr: master_link_status:${link:-unknown}"; continue; fi',
    '  res="$(at "$rh" "$rp" cluster failover)"',
    '  if [ "$res" != OK ]; then log "$addr: CLUSTER FAILOVER: $res"; continue; fi',
    '  i=0',
    `  while [ "$i" -lt ${wait} ]; do`,
    '    if [ "$(field "$(me info replication)" role)" = slave ]; then log "handed the slots to $addr"; exit 0; fi',
    '    sleep 1; i=$((i + 1))',
    '  done',
    `  log "$addr did not take over within ${wait} s"; exit 0`,
    'done',
    'log "no in-sync replica to hand the slots to"',
    'exit 0',
  ].join('\n');
}

export function redisPreStopCommand(a: RedisProbeAuth & { waitSeconds?: number }): string[] {
  return ['sh', '-c', redisPreStopScript(a)];
}
