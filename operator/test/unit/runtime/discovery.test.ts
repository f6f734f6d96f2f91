// discoverKind: the operator's startup check for the Prometheus Operator's PodMonitor API, against
// a stand-in API server on 127.0.7.200 answering discovery documents as kube-apiserver does
// (an APIResourceList for a served group/version, 404 for an unknown one).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { discoverKind } from '../../../src/runtime/kube.js';

const PODMONITOR_LIST = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'monitoring.coreos.com/v1',
  resources: [
    { name: 'podmonitors', singularName: 'podmonitor', namespaced: true, kind: 'PodMonitor', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { name: 'servicemonitors', singularName: 'servicemonitor', namespaced: true, kind: 'ServiceMonitor', verbs: ['get', 'list'] },
  ],
};

let server: http.Server;
let served: Record<string, unknown> = {};
const paths: string[] = [];

function kubeConfig(): k8s.KubeConfig {
  const { address, port } = server.address() as AddressInfo;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://${address}:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    const body = served[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.7.200', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

test('true when the group/version lists the kind (one discovery GET)', async () => {
  served = { '/apis/monitoring.coreos.com/v1': PODMONITOR_LIST };
  paths.length = 0;
  await expect(discoverKind(kubeConfig(), 'monitoring.coreos.com/v1', 'PodMonitor')).resolves.toBe(true);
  expect(paths).toEqual(['/apis/monitoring.coreos.com/v1']);
});

test('false when the group/version is not served (404), or served without the kind', async () => {
  served = {};
  await expect(discoverKind(kubeConfig(), 'monitoring.coreos.com/v1', 'PodMonitor')).resolves.toBe(false);
  served = { '/apis/monitoring.coreos.com/v1': { ...PODMONITOR_LIST, resources: PODMONITOR_LIST.resources.slice(1) } };
  await expect(discoverKind(kubeConfig(), 'monitoring.coreos.com/v1', 'PodMonitor')).resolves.toBe(false);
});

test('other failures are errors (the caller logs and renders no PodMonitors)', async () => {
  const kc = kubeConfig();
  server.closeAllConnections();
  const { port } = server.address() as AddressInfo;
  kc.clusters[0] = { ...kc.clusters[0], server: `http://127.0.7.201:${port}` }; // nothing listens there
  await expect(discoverKind(kc, 'monitoring.coreos.com/v1', 'PodMonitor', 5000)).rejects.toThrow();
});
