// `make demo` run non-interactively: the whole tier comes up from examples/cachetier.yaml, every
// flow passes, the Prometheus it prints answers and scrapes every component while the demo runs,
// and everything it started is gone afterwards.
import { jest } from '@jest/globals';
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
jest.setTimeout(15 * 60_000);

function serversOn(prefix: string): string[] {
  const out = execFileSync('ss', ['-Hltn'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(` ${prefix}.`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET with a fresh connection each time (node:http, no pooling): status and body. */
function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

interface PromCheck {
  url?: string;
  ready?: boolean;
  /** "job instance health" of every active target, the last time they were all up (or the last answer). */
  targets: string[];
  allUp: boolean;
  polls: number;
  lastError?: string;
}

/** Asks the printed Prometheus (while the demo still runs) until every target is up. */
async function checkPrometheus(url: string, running: () => boolean, out: PromCheck): Promise<void> {
  out.url = url;
  while (running()) {
    try {
      out.polls++;
      out.ready ||= (await get(`${url}/-/ready`)).status === 200;
      const r = await get(`${url}/api/v1/targets?state=active`);
      const body = JSON.parse(r.body) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } };
      out.targets = body.data.activeTargets.map((t) => `${t.labels.job} ${t.labels.instance} ${t.health}`);
      if (body.data.activeTargets.length > 0 && body.data.activeTargets.every((t) => t.health === 'up')) {
        out.allUp = true;
        return;
      }
    } catch (e) {
      out.lastError = `${String(e)} ${String((e as { cause?: unknown }).cause ?? '')}`; // not up yet, or already stopping
    }
    await sleep(1000);
  }
}

test('make demo with DEMO_EXIT=1 brings the tier up, every flow passes, its Prometheus scrapes everything, and it stops cleanly', async () => {
  expect(serversOn('127.0.4')).toEqual([]);
  const child = spawn(process.execPath, ['--enable-source-maps', path.join(REPO, 'dist/hack/demo.js')], {
    cwd: REPO,
    env: { ...process.env, DEMO_EXIT: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  const prom: PromCheck = { targets: [], allUp: false, polls: 0 };
  let checking: Promise<void> | undefined;
  const onData = (d: Buffer) => {
    out += d.toString();
    const m = /^ {2}prometheus +(http:\/\/\S+)/m.exec(out);
    if (m && !checking) checking = checkPrometheus(m[1], () => !exited, prom);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGTERM'), 14 * 60_000);
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearTimeout(timer);
  exited = true;
  await checking;
  if (status !== 0 || !prom.allUp) console.log(`${out}\nPrometheus as this test saw it: ${JSON.stringify(prom, null, 1)}`);

  expect(out).toContain('demo: 4 passed, 0 failed');
  expect(out).toMatch(/L3 -> L1 -> L2 as expected/);
  expect(out).toMatch(/price \d+ served after \d+ ms/);
  expect(out).toMatch(/spread over \d+ app members/);
  expect(out).toMatch(/\d+ targets up in 5 jobs at http:\/\/127\.0\.4\.\d+:\d+/);
  // The printed Prometheus, asked by this test: ready, and every component's target up.
  expect(prom.url).toMatch(/^http:\/\/127\.0\.4\.\d+:\d+$/);
  expect(prom.ready).toBe(true);
  expect(prom.allUp).toBe(true);
  const jobs = new Set(prom.targets.map((t) => t.split(' ')[0]));
  expect([...jobs].sort()).toEqual(['cachetier-kafka', 'cachetier-openresty', 'cachetier-producer', 'cachetier-redis', 'cachetier-zookeeper']);
  expect(out).toContain('nothing left running');
  expect(status).toBe(0);
  expect(serversOn('127.0.4')).toEqual([]);
});
