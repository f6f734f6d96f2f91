// OpenResty distribution and app layers: ConfigMap (nginx.conf), Service(s), Deployment, PDB.
// The distribution Service is the tier's entry point; the app layer's headless Service is what
// the distribution layer re-resolves to find app pods.
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../api/types.js';
import { configHash, podDisruptionBudget } from './common.js';
import { type Component, childName, headlessFqdn, headlessName, kafkaBrokerFqdns, producerUrl, redisSeedFqdns } from './names.js';
import { renderNginxConf, type NginxConfigInput } from './config/nginx.js';
import {
  CONFIG_VOLUME,
  TMP_VOLUME,
  type RenderContext,
  configMap,
  configMapVolume,
  configMountPath,
  containerPorts,
  deployment,
  emptyDirVolume,
  fieldEnv,
  resources,
  workerCount,
  service,
} from './builders.js';
import type { KubeObject } from './object.js';
import { HTTP_METRICS_PORTS, OPENRESTY_PORT, REDIS_PASSWORD_FILE, REDIS_USERS, type OpenRestyLayer } from '../../../packages/contract/src/index.js';
import { REDIS_AUTH_VOLUME, redisPasswordVolume } from './producer.js';
import path from 'node:path';

/** This repo's images run as uid 10001. */
export const OPENRESTY_UID = 10001;
/** The project's Lua modules inside the openresty image. */
export const OPENRESTY_LUA_DIR = '/opt/cachetier/lua';
/** nginx prefix: pid, temp paths, logs. An emptyDir (read-only root filesystem). */
export const OPENRESTY_RUN_DIR = '/tmp/nginx';
export const NGINX_CONFIG_FILE = 'nginx.conf';

/** `http`: the data path and /healthz; `metrics`: /metrics alone (only monitoring peers reach it). */
const PORTS = [{ name: 'http', port: OPENRESTY_PORT }];
/** The container's ports; the Services carry `http` only (Prometheus scrapes pods). */
const CONTAINER_PORTS = [...PORTS, { name: 'metrics', port: HTTP_METRICS_PORTS.openresty }];

export function openRestyComponent(layer: OpenRestyLayer): Component {
  return layer === 'distribution' ? 'openresty-distribution' : 'openresty-app';
}

/** The NginxConfigInput a pod of `layer` runs with. Names are fully qualified: nginx ignores search paths. */
export function nginxConfigInput(tier: ResolvedCacheTier, layer: OpenRestyLayer, ctx: RenderContext): NginxConfigInput {
  const input: NginxConfigInput = {
    layer,
    listenAddress: '0.0.0.0',
    port: OPENRESTY_PORT,
    metricsPort: HTTP_METRICS_PORTS.openresty,
    luaDir: OPENRESTY_LUA_DIR,
    workerProcesses: workerCount(tier.spec.openresty.resources),
    runDir: OPENRESTY_RUN_DIR,
    resolver: ctx.dnsResolver,
    redisSeeds: redisSeedFqdns(tier, ctx.clusterDomain),
    producerUrl: producerUrl(tier, ctx.clusterDomain),
    kafkaBrokers: kafkaBrokerFqdns(tier, ctx.clusterDomain),
  };
  if (layer === 'distribution') {
    input.appUpstream = { kind: 'dns', name: headlessFqdn(tier, 'openresty-app', ctx.clusterDomain), port: OPENRESTY_PORT };
  }
  // Each layer is its own Redis ACL user; the password is a file from the passwords Secret.
  input.redisAuth = { username: REDIS_USERS[layer], passwordFile: REDIS_PASSWORD_FILE };
  return input;
}

export function openRestyConfigFiles(
  tier: ResolvedCacheTier,
  layer: OpenRestyLayer,
  ctx: RenderContext,
): Record<string, string> {
  return { [NGINX_CONFIG_FILE]: renderNginxConf(tier, nginxConfigInput(tier, layer, ctx)) };
}

/** nginx in the foreground; `daemon off` is added only if the rendered config doesn't say it. */
export function nginxCommand(conf: string, component: Component): string[] {
  const cmd = ['nginx', '-p', `${OPENRESTY_RUN_DIR}/`, '-c', `${configMountPath(component)}/${NGINX_CONFIG_FILE}`, '-e', 'stderr'];
  if (!/^\s*daemon\s/m.test(conf)) cmd.push('-g', 'daemon off;');
  return cmd;
}

/** preStop: wait for endpoint removal to propagate, then `nginx -s quit` (graceful). */
export function nginxQuitCommand(component: Component): string[] {
  const conf = `${configMountPath(component)}/${NGINX_CONFIG_FILE}`;
  return ['sh', '-c', `sleep 5; nginx -p ${OPENRESTY_RUN_DIR}/ -c ${conf} -s quit`];
}

function renderLayer(tier: ResolvedCacheTier, layer: OpenRestyLayer, ctx: RenderContext): KubeObject[] {
  const o = tier.spec.openresty;
  const C = openRestyComponent(layer);
  const files = openRestyConfigFiles(tier, layer, ctx);
  const container: V1Container = {
    name: 'openresty',
    image: o.image,
    command: nginxCommand(files[NGINX_CONFIG_FILE], C),
  };
  // POD_NAME: the member name the app layer reports (nginx.conf declares `env POD_NAME`).
  const env: V1EnvVar[] = [fieldEnv('POD_NAME', 'metadata.name')];
  container.env = env;
  Object.assign(container, {
    ports: containerPorts(CONTAINER_PORTS),
    resources: resources(o.resources),
    // nginx.conf serves /healthz (no /readyz): a worker answering it is ready to route.
    readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 2 },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 6,
    },
    // Let endpoint removal reach clients first, then a graceful quit (finish in-flight requests).
    lifecycle: { preStop: { exec: { command: nginxQuitCommand(C) } } },
    volumeMounts: [
      { name: CONFIG_VOLUME, mountPath: configMountPath(C), readOnly: true },
      { name: TMP_VOLUME, mountPath: '/tmp' },
      { name: 'nginx-run', mountPath: OPENRESTY_RUN_DIR },
      { name: REDIS_AUTH_VOLUME, mountPath: path.posix.dirname(REDIS_PASSWORD_FILE), readOnly: true },
    ],
  });
  const replicas = layer === 'distribution' ? o.distribution.replicas : o.app.replicas;
  const services =
    layer === 'distribution'
      ? [service(tier, C, { name: childName(tier, C), ports: PORTS })]
      : [
          // Ready pods only: this is the distribution layer's consistent-hash member list.
          service(tier, C, { name: headlessName(tier, C), ports: PORTS, headless: true }),
          service(tier, C, { name: childName(tier, C), ports: PORTS }),
        ];
  return [
    configMap(tier, C, files),
    ...services,
    deployment(tier, C, configHash(files), {
      uid: OPENRESTY_UID,
      replicas,
      containers: [container],
      volumes: [configMapVolume(tier, C), emptyDirVolume('nginx-run'), emptyDirVolume(TMP_VOLUME), redisPasswordVolume(tier, layer)],
    }),
    // Always rendered (no delete verb on PDBs); with one replica maxUnavailable 1 blocks nothing.
    podDisruptionBudget(tier, C, 1),
  ];
}

export function renderOpenResty(tier: ResolvedCacheTier, ctx: RenderContext): KubeObject[] {
  return [...renderLayer(tier, 'distribution', ctx), ...renderLayer(tier, 'app', ctx)];
}
