// Properties every rendered object must have, checked over the whole renderAll output.
import { renderAll, type KubeObject } from '../../../src/render/index.js';
import { API_VERSION, KIND } from '../../../src/api/types.js';
import { CONFIG_HASH_ANNOTATION, configHash, selectorLabels } from '../../../src/render/common.js';
import { COMPONENTS } from '../../../src/render/names.js';
import {
  changedHashes,
  componentOf,
  find,
  hashes,
  hashesFor,
  makeTier,
  NS,
  ofKind,
  restrictedViolations,
  UID,
  workloads,
  type J,
} from './helpers.js';

const AUTH = { passwordSecretRef: { name: 'redis-auth', key: 'password' } };
const CREDS = { operator: 'pw-operator-x', replication: 'pw-replication-x', producer: 'pw-producer-x', app: 'pw-app-x', distribution: 'pw-distribution-x', monitoring: 'pw-monitoring-x', member: 'pw-member-x' };
const VARIANTS: [string, Parameters<typeof makeTier>[0]][] = [
  ['defaults', {}],
  ['redis auth', { redis: { auth: AUTH } }],
  ['hard anti-affinity', { podAntiAffinity: 'hard' }],
  [
    'ephemeral storage',
    {
      zookeeper: { storage: { persistent: false, size: '1Gi' } },
      kafka: { storage: { persistent: false, size: '1Gi' } },
      redis: { storage: { persistent: false, size: '1Gi' } },
    },
  ],
  ['single replicas', { zookeeper: { replicas: 1 }, kafka: { replicas: 1 }, producer: { replicas: 1 }, openresty: { distribution: { replicas: 1 }, app: { replicas: 1 } } }],
];

/** Every key path in a JSON value, e.g. "spec.template.spec.containers[].image". */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x) => keyPaths(x, `${prefix}[]`));
  if (v && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, x]) => [`${prefix}${prefix ? '.' : ''}${k}`, ...keyPaths(x, `${prefix}${prefix ? '.' : ''}${k}`)]);
  }
  return [];
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('renderAll', () => {
  test('renders every component: NetworkPolicies first, then ConfigMap, Service(s), workload, PDB, in a fixed order', () => {
    const objs = renderAll(makeTier());
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'NetworkPolicy/shop-zookeeper',
      'NetworkPolicy/shop-kafka',
      'NetworkPolicy/shop-redis',
      'NetworkPolicy/shop-producer',
      'NetworkPolicy/shop-openresty-distribution',
      'NetworkPolicy/shop-openresty-app',
      'ConfigMap/shop-zookeeper-config',
      'Service/shop-zookeeper-headless',
      'Service/shop-zookeeper',
      'StatefulSet/shop-zookeeper',
      'PodDisruptionBudget/shop-zookeeper',
      'ConfigMap/shop-kafka-config',
      'Service/shop-kafka-headless',
      'Service/shop-kafka',
      'StatefulSet/shop-kafka',
      'PodDisruptionBudget/shop-kafka',
      'ConfigMap/shop-redis-config',
      'Service/shop-redis-headless',
      'Service/shop-redis',
      'StatefulSet/shop-redis',
      'PodDisruptionBudget/shop-redis',
      'ConfigMap/shop-producer-config',
      'Service/shop-producer',
      'Deployment/shop-producer',
      'PodDisruptionBudget/shop-producer',
      'ConfigMap/shop-openresty-distribution-config',
      'Service/shop-openresty-distribution',
      'Deployment/shop-openresty-distribution',
      'PodDisruptionBudget/shop-openresty-distribution',
      'ConfigMap/shop-openresty-app-config',
      'Service/shop-openresty-app-headless',
      'Service/shop-openresty-app',
      'Deployment/shop-openresty-app',
      'PodDisruptionBudget/shop-openresty-app',
    ]);
    expect(workloads(objs).map(componentOf)).toEqual([...COMPONENTS]);
  });

  describe('deterministic output (an idle reconcile must see no diff)', () => {
    test('same tier -> byte-identical objects', () => {
      const a = renderAll(makeTier({ redis: { auth: AUTH } }));
      const b = renderAll(makeTier({ redis: { auth: AUTH } }));
      expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    });

    test('insertion order of user maps does not change the output', () => {
      const a = renderAll(
        makeTier({
          kafka: { config: { 'log.retention.hours': '24', 'num.io.threads': '4' } },
          redis: { config: { hz: '20', 'lazyfree-lazy-eviction': 'yes' }, resources: { limits: { 'ephemeral-storage': '1Gi', cpu: '1' } } },
          zookeeper: { config: { tickTime: '3000', initLimit: '20' } },
        }),
      );
      const b = renderAll(
        makeTier({
          kafka: { config: { 'num.io.threads': '4', 'log.retention.hours': '24' } },
          redis: { config: { 'lazyfree-lazy-eviction': 'yes', hz: '20' }, resources: { limits: { cpu: '1', 'ephemeral-storage': '1Gi' } } },
          zookeeper: { config: { initLimit: '20', tickTime: '3000' } },
        }),
      );
      expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    });

    test('rendering does not mutate the tier', () => {
      const tier = makeTier({ redis: { auth: AUTH } });
      const before = JSON.stringify(tier);
      renderAll(tier, { redisStatefulSetReplicas: 8 });
      expect(JSON.stringify(tier)).toBe(before);
    });
  });

  describe.each(VARIANTS)('%s', (_name, spec) => {
    const tier = makeTier(spec);
    const objs = renderAll(tier);

    test('valid for server-side apply: full apiVersion/kind, name + namespace, no status, no undefined', () => {
      const known = new Set([
        'v1/ConfigMap',
        'v1/Service',
        'apps/v1/StatefulSet',
        'apps/v1/Deployment',
        'policy/v1/PodDisruptionBudget',
        'networking.k8s.io/v1/NetworkPolicy',
      ]);
      const ids = new Set<string>();
      for (const o of objs) {
        expect(known).toContain(`${o.apiVersion}/${o.kind}`);
        expect(o.metadata.name).toMatch(DNS1123_LABEL);
        expect(o.metadata.name.length).toBeLessThanOrEqual(63);
        expect(o.metadata.namespace).toBe(NS);
        expect(o).not.toHaveProperty('status');
        for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields']) {
          expect(o.metadata).not.toHaveProperty(k);
        }
        // JSON round-trip is lossless: no undefined, functions, NaN or Dates sneak in.
        expect(JSON.parse(JSON.stringify(o))).toStrictEqual(o);
        ids.add(`${o.apiVersion}/${o.kind}/${o.metadata.name}`);
      }
      expect(ids.size).toBe(objs.length);
    });

    test('no server-defaulted fields the operator does not mean to own', () => {
      const defaulted = [
        'imagePullPolicy',
        'terminationMessagePath',
        'terminationMessagePolicy',
        'dnsPolicy',
        'restartPolicy',
        'schedulerName',
        'revisionHistoryLimit',
        'progressDeadlineSeconds',
        'strategy',
        // updateStrategy is owned on purpose: StatefulSets are OnDelete (the operator rolls them).
        'sessionAffinity',
        'clusterIPs',
        'ipFamilies',
        'ipFamilyPolicy',
        'internalTrafficPolicy',
        // persistentVolumeClaimRetentionPolicy is owned on purpose (both fields always rendered).
        'volumeMode',
        'creationTimestamp',
        'successThreshold',
      ];
      for (const o of objs) {
        const leaves = keyPaths(o).map((p) => p.split('.').pop()!);
        for (const d of defaulted) expect({ obj: `${o.kind}/${o.metadata.name}`, has: leaves.includes(d) ? d : null }).toEqual({ obj: `${o.kind}/${o.metadata.name}`, has: null });
      }
    });

    test('every StatefulSet is OnDelete: the operator rolls its pods', () => {
      const sets = objs.filter((o) => o.kind === 'StatefulSet');
      expect(sets.map((o) => o.metadata.name).sort()).toEqual(['shop-kafka', 'shop-redis', 'shop-zookeeper']);
      for (const o of sets) expect((o.spec as { updateStrategy?: unknown }).updateStrategy).toEqual({ type: 'OnDelete' });
    });

    test('every object is owned by the CacheTier (controller owner reference)', () => {
      for (const o of objs) {
        expect(o.metadata.ownerReferences).toEqual([
          { apiVersion: API_VERSION, kind: KIND, name: 'shop', uid: UID, controller: true, blockOwnerDeletion: true },
        ]);
      }
    });

    test('every pod template passes the restricted Pod Security Standard', () => {
      for (const w of workloads(objs)) {
        expect({ workload: w.metadata.name, violations: restrictedViolations(w.spec.template.spec) }).toEqual({
          workload: w.metadata.name,
          violations: [],
        });
        for (const c of w.spec.template.spec.containers) expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      }
    });

    test('selectors match pod labels; Services select their own component', () => {
      for (const w of workloads(objs)) {
        const sel = w.spec.selector.matchLabels;
        expect(sel).toEqual(selectorLabels(tier, componentOf(w)));
        expect(w.spec.template.metadata.labels).toMatchObject(sel);
      }
      for (const s of ofKind(objs, 'Service')) expect(s.spec.selector).toEqual(selectorLabels(tier, componentOf(s)));
      for (const p of ofKind(objs, 'PodDisruptionBudget')) {
        expect(p.spec.selector.matchLabels).toEqual(selectorLabels(tier, componentOf(p)));
      }
    });

    test('pod anti-affinity by hostname, soft unless spec.podAntiAffinity is hard', () => {
      for (const w of workloads(objs)) {
        const aa = w.spec.template.spec.affinity.podAntiAffinity;
        const term = { labelSelector: { matchLabels: w.spec.selector.matchLabels }, topologyKey: 'kubernetes.io/hostname' };
        if (tier.spec.podAntiAffinity === 'hard') {
          expect(aa).toEqual({ requiredDuringSchedulingIgnoredDuringExecution: [term] });
        } else {
          expect(aa).toEqual({ preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] });
        }
      }
    });

    test('StatefulSets: Parallel, served by a headless Service that publishes not-ready addresses', () => {
      for (const s of ofKind(objs, 'StatefulSet')) {
        expect(s.spec.podManagementPolicy).toBe('Parallel');
        const headless = find(objs, 'Service', s.spec.serviceName);
        expect(headless.spec.clusterIP).toBe('None');
        expect(headless.spec.publishNotReadyAddresses).toBe(true);
      }
    });

    test('data volume: a PVC template when persistent, else an emptyDir; every mount has a volume', () => {
      for (const s of ofKind(objs, 'StatefulSet')) {
        const st = tier.spec[componentOf(s) as 'zookeeper' | 'kafka' | 'redis'].storage;
        const pod = s.spec.template.spec;
        const dataVol = pod.volumes.find((v: J) => v.name === 'data');
        if (st.persistent) {
          expect(dataVol).toBeUndefined();
          expect(s.spec.volumeClaimTemplates).toEqual([
            {
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: st.size } } },
            },
          ]);
        } else {
          expect(dataVol).toEqual({ name: 'data', emptyDir: {} });
          expect(s.spec).not.toHaveProperty('volumeClaimTemplates');
        }
      }
      for (const w of workloads(objs)) {
        const names = new Set([
          ...w.spec.template.spec.volumes.map((v: J) => v.name),
          ...(w.spec.volumeClaimTemplates ?? []).map((v: J) => v.metadata.name),
        ]);
        for (const c of w.spec.template.spec.containers) for (const m of c.volumeMounts) expect(names).toContain(m.name);
        const mountNames = w.spec.template.spec.containers.flatMap((c: J) => c.volumeMounts.map((m: J) => m.name));
        for (const v of names) expect(mountNames).toContain(v);
      }
    });

    test('the config hash annotation is the hash of the component’s ConfigMap (and the only annotation)', () => {
      for (const w of workloads(objs)) {
        const annotations = w.spec.template.metadata.annotations;
        expect(Object.keys(annotations)).toEqual([CONFIG_HASH_ANNOTATION]);
        const cm = find(objs, 'ConfigMap', `${w.metadata.name}-config`);
        expect(annotations[CONFIG_HASH_ANNOTATION]).toBe(configHash(cm.data));
        const vols = w.spec.template.spec.volumes.filter((v: J) => v.configMap).map((v: J) => v.configMap.name);
        const envFrom = w.spec.template.spec.containers.flatMap((c: J) => (c.envFrom ?? []).map((e: J) => e.configMapRef.name));
        expect([...vols, ...envFrom]).toEqual([cm.metadata.name]);
      }
    });

    test('every workload has a maxUnavailable-1 PDB', () => {
      for (const w of workloads(objs)) {
        expect(find(objs, 'PodDisruptionBudget', w.metadata.name).spec.maxUnavailable).toBe(1);
      }
    });

    test('no password in any ConfigMap, arg or env: Redis passwords are files from Secret volumes', () => {
      const withCreds = renderAll(tier, { redisCredentials: CREDS });
      for (const cm of ofKind(withCreds, 'ConfigMap')) {
        for (const [k, v] of Object.entries(cm.data as Record<string, string>)) {
          if (k !== 'REDIS_PASSWORD_FILE') expect(k).not.toMatch(/PASSWORD/i);
          expect(v).not.toMatch(/^\s*(requirepass|masterauth)\s/m);
        }
      }
      // No object but the ACL Secret carries any of the passwords, whatever its encoding.
      for (const o of withCreds.filter((x) => x.kind !== 'Secret')) {
        const text = JSON.stringify(o);
        for (const pw of Object.values(CREDS)) expect(text).not.toContain(pw);
        expect(text).not.toMatch(/REDIS_PASSWORD"|REDISCLI_AUTH"|--requirepass|--masterauth/);
      }
      for (const w of workloads(withCreds)) {
        for (const c of w.spec.template.spec.containers) {
          for (const e of c.env ?? []) expect(e.valueFrom?.secretKeyRef).toBeUndefined();
        }
      }
      expect(ofKind(withCreds, 'Secret').map((s) => s.metadata.name)).toEqual([`${tier.metadata.name}-redis-acl`]);
    });

    test('probes have no side effects: TCP, HTTP GET of health endpoints, or read-only exec', () => {
      for (const w of workloads(objs)) {
        for (const c of w.spec.template.spec.containers) {
          for (const probe of [c.readinessProbe, c.livenessProbe]) {
            expect(probe).toBeDefined();
            if (probe.httpGet) expect(['/healthz', '/readyz']).toContain(probe.httpGet.path);
            else if (probe.exec) expect(probe.exec.command.join(' ')).toMatch(/\b(ping|srvr)\b|\\x00\\x12\\x00\\x00/); // Kafka: ApiVersions
            else expect(probe.tcpSocket).toBeDefined();
          }
        }
      }
    });
  });

  test('the longest tier name the CRD allows (31 chars) still gives valid names, pod revision labels included', () => {
    const name = 'a'.repeat(31);
    const objs = renderAll(makeTier({}, name));
    for (const o of objs) {
      expect(o.metadata.name).toMatch(DNS1123_LABEL);
      expect(o.metadata.name.length).toBeLessThanOrEqual(63);
    }
    // A StatefulSet's pods carry the label controller-revision-hash="<sts>-<up to 10 chars>", and
    // their hostnames are "<sts>-<ordinal>": both must fit a 63-char label. (Deployment pod names
    // are generated and truncated by the ReplicaSet controller.)
    for (const s of ofKind(objs, 'StatefulSet')) expect(s.metadata.name.length + 11).toBeLessThanOrEqual(63);
  });

  test('resources and images come from the spec', () => {
    const res = { requests: { cpu: '7m', memory: '7Mi' }, limits: { memory: '77Mi' } };
    const objs = renderAll(
      makeTier({
        zookeeper: { resources: res, image: 'example/zk:1' },
        kafka: { resources: res, image: 'example/kafka:1' },
        redis: { resources: res, image: 'example/redis:1' },
        producer: { resources: res, image: 'example/producer:1' },
        openresty: { resources: res, image: 'example/openresty:1' },
      }),
    );
    const images = workloads(objs).map((w) => w.spec.template.spec.containers[0].image);
    expect(images).toEqual(['example/zk:1', 'example/kafka:1', 'example/redis:1', 'example/producer:1', 'example/openresty:1', 'example/openresty:1']);
    for (const w of workloads(objs)) expect(w.spec.template.spec.containers[0].resources).toEqual(res);
  });

  describe('a config change rolls that component and nothing else', () => {
    const base = hashesFor({});
    test.each([
      ['spec.kafka.config', { kafka: { config: { 'log.retention.hours': '24' } } }, ['kafka']],
      ['spec.kafka.minInsyncReplicas', { kafka: { minInsyncReplicas: 1 } }, ['kafka']],
      ['spec.redis.maxmemory', { redis: { maxmemory: '512mb' } }, ['redis']],
      ['spec.redis.maxmemoryPolicy', { redis: { maxmemoryPolicy: 'volatile-lru' } }, ['redis']],
      ['spec.redis.config', { redis: { config: { hz: '50' } } }, ['redis']],
      ['spec.zookeeper.config', { zookeeper: { config: { tickTime: '3000' } } }, ['zookeeper']],
      ['spec.producer.lock', { producer: { lock: { timeoutMs: 9000 } } }, ['producer']],
      ['spec.producer.sources', { producer: { sources: { shopInfoService: 'http://shops:80' } } }, ['producer']],
      ['spec.producer.hotProducts', { producer: { hotProducts: { topN: 7 } } }, ['producer']],
      // Scaling Redis neither changes redis.conf nor the (fixed) client seeds.
      ['spec.redis.masters', { redis: { masters: 5 } }, []],
      ['replica counts', { producer: { replicas: 9 }, openresty: { app: { replicas: 9 } } }, []],
      ['resources', { redis: { resources: { limits: { memory: '2Gi' } } } }, []],
    ] as const)('%s', (_n, spec, want) => {
      expect(changedHashes(base, hashesFor(spec))).toEqual(want);
    });

    test('spec.openresty.l1 touches only the OpenResty layers (exactly those whose nginx.conf changed)', () => {
      const spec = { openresty: { l1: { ttlSeconds: 5, lruSize: 7 } } };
      const changed = changedHashes(base, hashesFor(spec));
      const objsA = renderAll(makeTier());
      const objsB = renderAll(makeTier(spec));
      const confChanged = ['openresty-distribution', 'openresty-app'].filter(
        (c) => find(objsA, 'ConfigMap', `shop-${c}-config`).data['nginx.conf'] !== find(objsB, 'ConfigMap', `shop-${c}-config`).data['nginx.conf'],
      );
      expect(changed).toEqual(confChanged.sort());
    });

    test('spec.zookeeper.replicas changes the ensemble and its clients (Kafka, producer), nothing else', () => {
      const changed = changedHashes(base, hashesFor({ zookeeper: { replicas: 5 } }));
      expect(changed).toEqual(expect.arrayContaining(['kafka', 'producer', 'zookeeper']));
      expect(changed.filter((c) => !c.startsWith('openresty'))).toEqual(['kafka', 'producer', 'zookeeper']);
    });

    test('the Redis StatefulSet size from the orchestration never changes any hash', () => {
      expect(changedHashes(base, hashesFor({}, { redisStatefulSetReplicas: 12 }))).toEqual([]);
    });

    test('hashes differ between components', () => {
      expect(new Set(Object.values(base)).size).toBe(Object.keys(base).length);
    });
  });

  test('the restricted checker itself catches violations', () => {
    const bad = {
      hostNetwork: true,
      securityContext: { runAsUser: 0 },
      volumes: [{ name: 'h', hostPath: { path: '/' } }],
      containers: [
        {
          name: 'c',
          securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] }, seccompProfile: { type: 'Unconfined' } },
          ports: [{ containerPort: 80, hostPort: 80 }],
        },
      ],
    };
    const v = restrictedViolations(bad).join('\n');
    for (const want of ['hostNetwork', 'hostPath', 'runAsUser 0', 'privileged', 'allowPrivilegeEscalation', 'drop lacks ALL', 'adds SYS_ADMIN', 'seccomp Unconfined', 'runAsNonRoot', 'hostPort']) {
      expect(v).toContain(want);
    }
    // And a rendered pod with one field flipped fails.
    const w = find(renderAll(makeTier()), 'StatefulSet', 'shop-redis');
    const pod = structuredClone(w.spec.template.spec);
    pod.containers[0].securityContext.allowPrivilegeEscalation = true;
    expect(restrictedViolations(pod)).toEqual(['container redis: allowPrivilegeEscalation not false']);
  });

  test('hashes() helper reads every workload', () => {
    const objs: KubeObject[] = renderAll(makeTier());
    expect(Object.keys(hashes(objs))).toEqual([...COMPONENTS]);
  });
});
