import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderZooKeeper } from '../../../src/render/zookeeper.js';
import { zookeeperClientAddresses } from '../../../src/render/names.js';
import { renderContext } from '../../../src/render/index.js';
import { find, makeTier, NS, runStartScript, type J } from './helpers.js';
import { ZK_PORTS } from '../../../../packages/contract/src/index.js';

const ctx = renderContext();
const render = (spec: Parameters<typeof makeTier>[0] = {}) => renderZooKeeper(makeTier(spec), ctx);
const zooCfg = (objs: J[]) => find(objs, 'ConfigMap', 'shop-zookeeper-config').data['zoo.cfg'] as string;
const serverLines = (cfg: string) => cfg.split('\n').filter((l) => l.startsWith('server.'));

describe('ZooKeeper renderer', () => {
  test.each([1, 3, 5])('zoo.cfg lists exactly %i servers, server.N = pod ordinal N-1 by stable DNS name', (n) => {
    const lines = serverLines(zooCfg(render({ zookeeper: { replicas: n } })));
    expect(lines).toEqual(
      Array.from(
        { length: n },
        (_, i) => `server.${i + 1}=shop-zookeeper-${i}.shop-zookeeper-headless.${NS}.svc:2888:3888`,
      ),
    );
  });

  test('zoo.cfg: data on the data volume, clients on 2181, quorum listens on all IPs, user keys applied', () => {
    const cfg = zooCfg(render({ zookeeper: { config: { tickTime: '3000', dataDir: '/evil' } } }));
    expect(cfg).toMatch(/^dataDir=\/data$/m);
    expect(cfg).not.toMatch(/\/evil/);
    expect(cfg).toMatch(/^clientPort=2181$/m);
    expect(cfg).toMatch(/^quorumListenOnAllIPs=true$/m);
    expect(cfg).toMatch(/^tickTime=3000$/m);
  });

  test('client addresses are the pods’ DNS names on 2181', () => {
    expect(zookeeperClientAddresses(makeTier())).toEqual([0, 1, 2].map((i) => `shop-zookeeper-${i}.shop-zookeeper-headless.${NS}.svc:2181`));
  });

  describe('start script', () => {
    const files = find(render(), 'ConfigMap', 'shop-zookeeper-config').data;
    const run = (hostname: string) =>
      runStartScript(files['start.sh'], { HOSTNAME: hostname }, 'echo "ARGS:$*"', (dir, fake) => ({
        CACHETIER_ZK_DATA_DIR: dir,
        CACHETIER_ZK_SERVER: fake,
      }));

    test.each([0, 1, 2, 11])('pod with ordinal %i writes myid = ordinal + 1, matching its server.N line', (ordinal) => {
      const r = run(`shop-zookeeper-${ordinal}`);
      try {
        expect(r.status).toBe(0);
        const myid = readFileSync(join(r.dir, 'myid'), 'utf8').trim();
        expect(myid).toBe(String(ordinal + 1));
        // It then execs the server in the foreground with the mounted zoo.cfg.
        expect(r.stdout.trim()).toBe('ARGS:start-foreground /etc/cachetier/zookeeper/zoo.cfg');
      } finally {
        r.cleanup();
      }
      const cfg = zooCfg(render({ zookeeper: { replicas: 12 } }));
      expect(cfg).toContain(`server.${ordinal + 1}=shop-zookeeper-${ordinal}.shop-zookeeper-headless.${NS}.svc:`);
    });

    test('refuses to start when the hostname has no ordinal', () => {
      const r = run('not-a-statefulset-pod');
      try {
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/ordinal/);
      } finally {
        r.cleanup();
      }
    });
  });

  test('Services: headless publishes not-ready pods (quorum formation) with client/peer/election; client Service on 2181', () => {
    const objs = render();
    const headless = find(objs, 'Service', 'shop-zookeeper-headless');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(headless.spec.ports.map((p: J) => p.port)).toEqual([ZK_PORTS.client, ZK_PORTS.peer, ZK_PORTS.election]);
    const client = find(objs, 'Service', 'shop-zookeeper');
    expect(client.spec.clusterIP).toBeUndefined();
    expect(client.spec.ports.map((p: J) => p.port)).toEqual([2181]);
    expect(client.spec.selector).toEqual(headless.spec.selector);
  });

  test('StatefulSet: upstream image, foreground start via the script, uid 1000, writable log dir and /tmp', () => {
    const sts = find(render({ zookeeper: { replicas: 5 } }), 'StatefulSet', 'shop-zookeeper');
    expect(sts.spec.replicas).toBe(5);
    expect(sts.spec.serviceName).toBe('shop-zookeeper-headless');
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    const pod = sts.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toMatch(/^zookeeper:3\.8\./);
    expect(c.command).toEqual(['sh', '/etc/cachetier/zookeeper/start.sh']);
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    const logDir = c.env.find((e: J) => e.name === 'ZOO_LOG_DIR').value;
    const mountOf = (path: string) => c.volumeMounts.find((m: J) => m.mountPath === path);
    const volume = (name: string) => pod.volumes.find((v: J) => v.name === name);
    expect(volume(mountOf(logDir).name).emptyDir).toEqual({});
    expect(volume(mountOf('/tmp').name).emptyDir).toEqual({});
    expect(mountOf('/etc/cachetier/zookeeper').readOnly).toBe(true);
  });

  test('JVM heap is half the memory limit so the pod is not OOM-killed', () => {
    const c = find(render({ zookeeper: { resources: { limits: { memory: '1Gi' } } } }), 'StatefulSet', 'shop-zookeeper')
      .spec.template.spec.containers[0];
    expect(c.env.find((e: J) => e.name === 'ZK_SERVER_HEAP').value).toBe('512');
  });

  test('probes have no side effects: readiness asks `srvr` (a whitelisted read-only 4lw), liveness is a TCP check', () => {
    const objs = render();
    const c = find(objs, 'StatefulSet', 'shop-zookeeper').spec.template.spec.containers[0];
    const cmd = c.readinessProbe.exec.command.join(' ');
    expect(cmd).toContain('srvr');
    const whitelist = zooCfg(objs).match(/^4lw\.commands\.whitelist=(.*)$/m)![1].split(',');
    expect(whitelist).toContain('srvr');
    expect(c.livenessProbe).toMatchObject({ tcpSocket: { port: 2181 } });
  });

  test('PDB keeps quorum: maxUnavailable 1, selecting the ZooKeeper pods', () => {
    const objs = render();
    const pdb = find(objs, 'PodDisruptionBudget', 'shop-zookeeper');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(find(objs, 'StatefulSet', 'shop-zookeeper').spec.selector.matchLabels);
  });
});
