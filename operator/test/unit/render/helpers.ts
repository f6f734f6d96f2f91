// Shared fixtures and checkers for the renderer unit tests.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolve } from '../../../src/api/defaults.js';
import { API_VERSION, KIND, type CacheTierSpec, type DeepPartial, type ResolvedCacheTier } from '../../../src/api/types.js';
import { CONFIG_HASH_ANNOTATION } from '../../../src/render/common.js';
import type { Component } from '../../../src/render/names.js';
import { renderAll, type KubeObject, type RenderOptions } from '../../../src/render/index.js';

export const NS = 'prod';
export const NAME = 'shop';
export const UID = '0b7c4c1e-1111-4222-8333-944445555666';

/**
 * A recursive partial spec. (api/types.ts DeepPartial only recurses into types that extend
 * Record<string, unknown>, which interfaces don't, so it is shallow for CacheTierSpec.)
 */
export type SpecPatch<T = CacheTierSpec> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? SpecPatch<T[K]> : T[K];
};

export function makeTier(spec: SpecPatch = {}, name = NAME, namespace = NS): ResolvedCacheTier {
  return resolve({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace, uid: UID, generation: 1 },
    spec: spec as DeepPartial<CacheTierSpec>,
  });
}

// Loose accessors: the rendered objects are plain JSON, so tests read them as such.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type J = any;

export function find(objs: KubeObject[], kind: string, name: string): J {
  const hits = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  if (hits.length !== 1) throw new Error(`expected exactly one ${kind}/${name}, found ${hits.length}`);
  return hits[0];
}

export function ofKind(objs: KubeObject[], kind: string): J[] {
  return objs.filter((o) => o.kind === kind);
}

export function workloads(objs: KubeObject[]): J[] {
  return objs.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
}

export function componentOf(o: KubeObject): Component {
  return o.metadata.labels?.['app.kubernetes.io/component'] as Component;
}

/** Config hash on each component's pod template. */
export function hashes(objs: KubeObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of workloads(objs)) out[componentOf(w)] = w.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
  return out;
}

export function hashesFor(spec: SpecPatch, opts: RenderOptions = {}): Record<string, string> {
  return hashes(renderAll(makeTier(spec), opts));
}

/** Components whose config hash differs between two renders. */
export function changedHashes(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a)
    .filter((k) => a[k] !== b[k])
    .sort();
}

export function container(workload: J, name?: string): J {
  const cs: J[] = workload.spec.template.spec.containers;
  return name ? cs.find((c) => c.name === name) : cs[0];
}

export function envVar(c: J, name: string): J {
  return (c.env ?? []).find((e: J) => e.name === name);
}

const PSS_ALLOWED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
]);

/**
 * Violations of the "restricted" Pod Security Standard (baseline + restricted checks, as the
 * PodSecurity admission plugin evaluates them) for one pod spec. Empty = admitted.
 */
export function restrictedViolations(pod: J): string[] {
  const v: string[] = [];
  const psc = pod.securityContext ?? {};
  if (pod.hostNetwork) v.push('hostNetwork');
  if (pod.hostPID) v.push('hostPID');
  if (pod.hostIPC) v.push('hostIPC');
  for (const vol of pod.volumes ?? []) {
    const types = Object.keys(vol).filter((k) => k !== 'name');
    for (const t of types) if (!PSS_ALLOWED_VOLUME_TYPES.has(t)) v.push(`volume ${vol.name}: type ${t}`);
  }
  for (const s of psc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) v.push(`sysctl ${s.name}`);
  if (psc.seLinuxOptions?.user || psc.seLinuxOptions?.role) v.push('pod seLinuxOptions user/role');
  if (psc.runAsUser === 0) v.push('pod runAsUser 0');
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp === 'Unconfined') v.push('pod seccomp Unconfined');
  const containers: J[] = [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])];
  if (containers.length === 0) v.push('no containers');
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const n = `container ${c.name}`;
    if (sc.privileged) v.push(`${n}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) v.push(`${n}: allowPrivilegeEscalation not false`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) v.push(`${n}: capabilities.drop lacks ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') v.push(`${n}: adds ${cap}`);
    const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (nonRoot !== true) v.push(`${n}: runAsNonRoot not true`);
    if (sc.runAsUser === 0) v.push(`${n}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') v.push(`${n}: seccomp ${seccomp ?? 'unset'}`);
    if (sc.procMount && sc.procMount !== 'Default') v.push(`${n}: procMount ${sc.procMount}`);
    if (sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) v.push(`${n}: seLinuxOptions user/role`);
    if (sc.appArmorProfile?.type === 'Unconfined') v.push(`${n}: appArmor Unconfined`);
    for (const p of c.ports ?? []) if (p.hostPort) v.push(`${n}: hostPort ${p.hostPort}`);
  }
  return v;
}

/**
 * Runs a rendered start script with /bin/sh in a temp dir. `fakeExec` is the body of a script
 * standing in for the real server binary (it receives the same arguments).
 */
export function runStartScript(
  script: string,
  env: Record<string, string>,
  fakeExec: string,
  envForFake: (dir: string, fake: string) => Record<string, string>,
): { dir: string; stdout: string; status: number; stderr: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cachetier-render-'));
  const scriptPath = join(dir, 'start.sh');
  const fake = join(dir, 'fake-server.sh');
  writeFileSync(scriptPath, script);
  writeFileSync(fake, `#!/bin/sh\n${fakeExec}\n`);
  chmodSync(fake, 0o755);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const stdout = execFileSync('/bin/sh', [scriptPath], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, ...envForFake(dir, fake) },
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { dir, stdout, status: 0, stderr: '', cleanup };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { dir, stdout: err.stdout ?? '', status: err.status ?? -1, stderr: err.stderr ?? '', cleanup };
  }
}
