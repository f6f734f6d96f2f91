// Process helpers for the integration tier: every server runs in its own process group so a
// test can kill it (and anything it forked) for sure, and nothing outlives the test process.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  /** Signal the whole process group; waits for exit up to timeoutMs, then SIGKILLs. */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

const live = new Set<ManagedProcess>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

// Last line of defence: if the test process exits without cleaning up, take the servers with it.
function killAllLive(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
}
process.once('exit', killAllLive);
// A runner killed by SIGTERM/SIGINT/SIGHUP never reaches 'exit' handlers on its own. Act only when
// nobody else handles the signal (the demo stops everything gracefully itself).
for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  const onSignal = () => {
    if (process.listenerCount(sig) > 1) return;
    killAllLive();
    process.exit(code);
  };
  process.on(sig, onSignal);
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { logDir: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true, // own process group
    stdio: ['ignore', 'pipe', 'pipe'],
  };
  const child = spawn(command, args, spawnOpts);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  const pid = child.pid;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown'));
    child.once('error', () => resolve('spawn-error'));
  });
  const proc: ManagedProcess = {
    name,
    child,
    pid,
    logFile,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        live.delete(proc);
        return;
      }
      killGroup(pid, signal);
      const t = setTimeout(() => killGroup(pid, 'SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
      live.delete(proc);
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

export async function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Polls until `check` returns true; throws with `what` after timeoutMs. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

export async function waitForPort(host: string, port: number, timeoutMs: number, proc?: ManagedProcess) {
  await waitFor(
    `${proc?.name ?? 'server'} on ${host}:${port}${proc ? ` (log: ${proc.logFile})` : ''}`,
    async () => {
      if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
        throw new Error(`${proc.name} exited early; see ${proc.logFile}`);
      }
      return isPortOpen(host, port);
    },
    timeoutMs,
  );
}

export async function makeRootDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `cachetier-${prefix}-`));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The repository root, found by walking up to the package.json named "cachetier": the harness
 * runs both from source (ts-jest) and compiled under dist/, so a fixed '../..' is wrong for one.
 */
export function repoRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'cachetier') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no cachetier package.json above ${from}`);
    dir = up;
  }
}
