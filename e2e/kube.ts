// Small helpers the e2e suite uses: kubectl, port-forwards and polling, against the kind cluster
// that hack/kind/up.sh created (its own kubeconfig in $KUBECONFIG; the user's context is never
// used or changed). Nothing here is faked: every call goes to the real cluster.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const NS = process.env.E2E_NAMESPACE ?? 'cachetier-e2e';
export const TIER = process.env.E2E_TIER ?? 'shop';
export const CONTEXT = `kind-${process.env.KIND_CLUSTER ?? 'cachetier-e2e'}`;

export async function kubectl(args: string[], input?: string): Promise<string> {
  const full = ['--context', CONTEXT, ...args];
  if (input === undefined) {
    const { stdout } = await run('kubectl', full, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const p = spawn('kubectl', full, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')}: ${err}`))));
    p.stdin.end(input);
  });
}

export async function getJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`e2e: timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}
export interface TierObject {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    redis?: { readyMasters?: number; members?: { pod: string; role: string; kubernetesNode?: string; replicaOf?: string; nodeId?: string }[] };
  };
}

export async function tier(): Promise<TierObject> {
  return getJson<TierObject>(['-n', NS, 'get', 'cachetier', TIER]);
}

export function condition(t: TierObject, type: string): Condition | undefined {
  return t.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the tier has observed its latest generation and every named condition is True. */
export async function waitConditions(types: string[], timeoutMs: number): Promise<TierObject> {
  return eventually(
    `conditions ${types.join(',')} True`,
    async () => {
      const t = await tier();
      if (t.status?.observedGeneration !== t.metadata.generation) return undefined;
      return types.every((ty) => condition(t, ty)?.status === 'True') ? t : undefined;
    },
    timeoutMs,
  );
}

export interface PortForward {
  port: number;
  stop(): void;
}

/**
 * kubectl port-forward to a Service; resolves once the local port answers. kubectl forwards to one
 * pod of the Service and exits when that pod goes away (a drain, a roll), so it is restarted
 * until stop(): the test keeps talking to the Service, as a client behind it would.
 */
async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A local port nothing listens on now (the OS picks it): fixed ports may be taken by other processes. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

/**
 * `preferredPort` is used when free; otherwise (another process listens there, whose answers
 * would pass for the tier's) the OS picks one. Use the returned `port`.
 */
export async function portForward(service: string, preferredPort: number, remotePort: number): Promise<PortForward> {
  const localPort = (await portIsFree(preferredPort)) ? preferredPort : await freePort();
  let stopped = false;
  let p: ChildProcess | undefined;
  const start = () => {
    if (stopped) return;
    p = spawn('kubectl', ['--context', CONTEXT, '-n', NS, 'port-forward', `svc/${service}`, `${localPort}:${remotePort}`], { stdio: 'ignore' });
    p.on('exit', () => {
      if (!stopped) setTimeout(start, 500);
    });
  };
  start();
  await eventually(
    `port-forward ${service}`,
    async () => {
      const r = await fetch(`http://127.0.0.1:${localPort}/healthz`).catch(() => undefined);
      return r !== undefined;
    },
    60_000,
    500,
  );
  return {
    port: localPort,
    stop: () => {
      stopped = true;
      p?.kill('SIGTERM');
    },
  };
}

export interface PodInfo {
  name: string;
  uid: string;
  node?: string;
  ready: boolean;
  /** Phase Running (scheduled and started); a pod that is Pending or gone is disrupted. */
  running: boolean;
}

/** The tier's pods of one component (label app.kubernetes.io/name), terminating ones excluded. */
export async function pods(component: string): Promise<PodInfo[]> {
  const list = await getJson<{
    items: {
      metadata: { name: string; uid: string; deletionTimestamp?: string };
      spec: { nodeName?: string };
      status: { phase?: string; conditions?: { type: string; status: string }[] };
    }[];
  }>(['-n', NS, 'get', 'pods', '-l', `app.kubernetes.io/name=${component},app.kubernetes.io/instance=${TIER}`]);
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      name: p.metadata.name,
      uid: p.metadata.uid,
      node: p.spec.nodeName,
      ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      running: p.status.phase === 'Running',
    }));
}
