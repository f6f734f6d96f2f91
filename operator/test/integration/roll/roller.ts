// The roll loop as its own process, so the roll test can SIGKILL it mid-roll and start another:
// rollStep (operator/src/roll/driver.ts) every ~1 s with the real ZooKeeper and Kafka observers,
// ZooKeeper first, then Kafka, until both are Done. What the operator reads from and does to the
// Kubernetes API (list the pods, delete one) goes to the test process over HTTP:
//   GET  <api>/pods?component=zookeeper  -> RollPod[]
//   POST <api>/restart {component, pod}  -> the test stops that server and starts it with the new config
// Run: node --import ./hack/local/ts-register.mjs operator/test/integration/roll/roller.ts <api> <id>
// Prints one JSON line per pass (the RollProgress) on stdout.
import { rollStep } from '../../../src/roll/driver.js';
import { KafkaRollObserver } from '../../../src/roll/observe-kafka.js';
import { ZooKeeperRollObserver } from '../../../src/roll/observe-zookeeper.js';
import type { RollComponent, RollObserver, RollPod, RollTarget } from '../../../src/roll/types.js';

const [api, id] = process.argv.slice(2);
if (!api || !id) {
  console.error('usage: roller.ts <api-url> <roller-id>');
  process.exit(2);
}
const EXPECTED = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const zk = new ZooKeeperRollObserver();
const kafka = new KafkaRollObserver({ clientId: `roll-test-roller-${id}` });
const observer: RollObserver = {
  zookeeper: (pods) => zk.zookeeper(pods),
  kafka: (pods) => kafka.kafka(pods),
  redis: () => Promise.reject(new Error('no Redis in this test')),
  redisFailover: () => Promise.reject(new Error('no Redis in this test')),
};
const target: RollTarget = {
  async restart(component, pod) {
    const r = await fetch(`${api}/restart`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-roller': id },
      body: JSON.stringify({ component, pod }),
    });
    if (!r.ok) throw new Error(`restart ${pod}: HTTP ${r.status} ${await r.text()}`);
  },
};

async function listPods(component: RollComponent): Promise<RollPod[]> {
  const r = await fetch(`${api}/pods?component=${component}`);
  if (!r.ok) throw new Error(`list pods: HTTP ${r.status}`);
  return (await r.json()) as RollPod[];
}

for (const component of ['zookeeper', 'kafka'] as const) {
  for (;;) {
    let pods: RollPod[];
    try {
      pods = await listPods(component);
    } catch (e) {
      console.log(JSON.stringify({ t: Date.now(), roller: id, component, error: String(e) }));
      await sleep(1000);
      continue;
    }
    const p = await rollStep(component, pods, EXPECTED, observer, target);
    console.log(JSON.stringify({ t: Date.now(), roller: id, ...p }));
    if (p.phase === 'Done') break;
    await sleep(1000);
  }
}
console.log(JSON.stringify({ t: Date.now(), roller: id, finished: true }));
