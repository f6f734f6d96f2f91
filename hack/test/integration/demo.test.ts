// `make demo` run non-interactively: the whole tier comes up from examples/cachetier.yaml, every
// flow passes, and everything it started is gone afterwards.
import { jest } from '@jest/globals';
import { spawnSync, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
jest.setTimeout(15 * 60_000);

function serversOn(prefix: string): string[] {
  const out = execFileSync('ss', ['-Hltn'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(` ${prefix}.`));
}

test('make demo with DEMO_EXIT=1 brings the tier up, every flow passes, and it stops cleanly', () => {
  expect(serversOn('127.0.4')).toEqual([]);
  const r = spawnSync(process.execPath, ['--enable-source-maps', path.join(REPO, 'dist/hack/demo.js')], {
    cwd: REPO,
    env: { ...process.env, DEMO_EXIT: '1' },
    encoding: 'utf8',
    timeout: 14 * 60_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) console.log(out);
  expect(out).toContain('demo: 3 passed, 0 failed');
  expect(out).toMatch(/L3 -> L1 -> L2 as expected/);
  expect(out).toMatch(/price \d+ served after \d+ ms/);
  expect(out).toMatch(/spread over \d+ app members/);
  expect(out).toContain('nothing left running');
  expect(r.status).toBe(0);
  expect(serversOn('127.0.4')).toEqual([]);
});
