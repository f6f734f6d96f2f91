// nginx.conf for the OpenResty distribution and app layers. The operator owns this renderer (it
// renders the ConfigMap the pods run); the Lua it loads lives in workloads/openresty/lua
// (/opt/cachetier/lua in the image) and reads the embedded JSON as the contract's LuaConfig. The
// OpenResty integration tests start nginx with exactly this output.
import type { OpenRestyLimits, ResolvedCacheTier } from '../../api/types.js';
import { HOT_SET_KEY, INVALIDATION_CHANNEL, type LuaConfig, type OpenRestyLayer } from '../../../../packages/contract/src/index.js';

export interface NginxConfigInput {
  layer: OpenRestyLayer;
  listenAddress: string;
  /** The public port: the data path and /healthz (for the kubelet); /metrics there is a 404. */
  port: number;
  /** /metrics alone, on listenAddress (a second server block). Must differ from port. */
  metricsPort: number;
  /** Directory holding the project's Lua modules (workloads/openresty/lua in tests, /opt/cachetier/lua in the image). */
  luaDir: string;
  workerProcesses: number | 'auto';
  /** Writable paths: pid, temp dirs, logs (the image runs non-root with a read-only root fs). */
  runDir: string;
  /** DNS resolver for pods (kube-dns); omitted in the integration tier. */
  resolver?: string;
  /** Distribution layer: app-layer members, static list or a DNS name re-resolved on a timer. */
  appUpstream?: { kind: 'static'; servers: string[] } | { kind: 'dns'; name: string; port: number };
  redisSeeds: string[];
  /** The Redis ACL user and the file with its password (a Secret volume in pods). */
  redisAuth?: { username: string; passwordFile: string };
  producerUrl: string;
  kafkaBrokers: string[];
  // ---- optional: defaults suit the pods ----
  /** Name this app-layer instance reports in X-App-Member (default: $POD_NAME, then $HOSTNAME). */
  memberName?: string;
  /** Adds /_cachetier/* endpoints the integration tests use (keyslot, route, state). Never in the image. */
  testEndpoints?: boolean;
  /** With testEndpoints: the folder holding the test-only Lua (workloads/openresty/test/lua), added to lua_package_path. */
  testLuaDir?: string;
  /** Error log target (default "stderr", which the container runtime collects). */
  errorLog?: string;
  errorLogLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error';
  /** Where Debian's dynamic modules live (ndk + lua). */
  moduleDir?: string;
  workerConnections?: number;
  /** Distribution layer: how often one worker pulls the hot set from Redis. */
  hotPullIntervalMs?: number;
  /** Distribution layer with DNS membership: re-resolve interval. */
  membershipRefreshMs?: number;
  /** App layer: send the access log to Kafka (default true when brokers are given). */
  accessLog?: boolean;
  /** App layer: Kafka async producer flush interval. */
  accessLogFlushMs?: number;
  /** Virtual nodes per app member on the hash ring. */
  vnodes?: number;
}

export const DEFAULT_MODULE_DIR = '/usr/lib/nginx/modules';

/** The `load_module` lines every rendered config starts with (ndk, then lua, which needs it). */
export function loadLuaModules(moduleDir: string = DEFAULT_MODULE_DIR): string[] {
  const mods = moduleDir.replace(/\/$/, '');
  return [`load_module ${mods}/ndk_http_module.so;`, `load_module ${mods}/ngx_http_lua_module.so;`];
}

/** "64m" / "512k" / "1g" / bytes -> kilobytes. */
export function sizeToKb(size: string): number {
  const m = /^(\d+)\s*([kKmMgG]?)$/.exec(size.trim());
  if (!m) throw new Error(`invalid nginx size: ${size}`);
  const n = Number(m[1]);
  switch (m[2].toLowerCase()) {
    case 'g':
      return n * 1024 * 1024;
    case 'm':
      return n * 1024;
    case 'k':
      return n;
    default:
      return Math.max(1, Math.ceil(n / 1024));
  }
}

function parseUrl(u: string): { host: string; port: number; path: string } {
  const url = new URL(u);
  if (url.protocol !== 'http:') throw new Error(`producerUrl must be http://host:port, got ${u}`);
  return { host: url.hostname, port: url.port ? Number(url.port) : 80, path: url.pathname.replace(/\/$/, '') };
}

/**
 * The X-App-Member header value in nginx syntax: the configured member name, else `$hostname`
 * (in a pod that is the pod name, what the Lua side used to read from POD_NAME/HOSTNAME).
 */
export function appMemberValue(memberName?: string): string {
  if (!memberName) return '$hostname';
  // It goes inside a double-quoted nginx string: no quote, backslash, '$' (variable) or space.
  if (!/^[A-Za-z0-9._:@/-]+$/.test(memberName)) throw new Error(`memberName must match [A-Za-z0-9._:@/-]+, got ${JSON.stringify(memberName)}`);
  return `"${memberName}"`;
}

/** The only methods the /product endpoints answer; anything else is a 405 with this Allow header. */
export const ALLOWED_METHODS = 'GET, HEAD';

/**
 * http-level lines for the flood limits (spec.openresty.<layer>.limits): one zone per limit that
 * is on, keyed by the client address; 429 for a request over either limit. Log level notice:
 * under a flood, every refusal at the default level (error) would be a log line.
 */
function limitZones(lim: OpenRestyLimits): string[] {
  const out: string[] = [];
  if (lim.requestsPerSecond > 0) {
    out.push(`  limit_req_zone $binary_remote_addr zone=cachetier_req:10m rate=${lim.requestsPerSecond}r/s;`, '  limit_req_status 429;', '  limit_req_log_level notice;');
  }
  if (lim.connections > 0) {
    out.push('  limit_conn_zone $binary_remote_addr zone=cachetier_conn:10m;', '  limit_conn_status 429;', '  limit_conn_log_level notice;');
  }
  return out;
}

/** location-level lines applying the zones above (none when the limit is off). */
function limitRules(lim: OpenRestyLimits, indent: string): string[] {
  const out: string[] = [];
  if (lim.requestsPerSecond > 0) out.push(`${indent}limit_req zone=cachetier_req${lim.burst > 0 ? ` burst=${lim.burst}` : ''} nodelay;`);
  if (lim.connections > 0) out.push(`${indent}limit_conn cachetier_conn ${lim.connections};`);
  return out;
}

/**
 * GET and HEAD only, answered in the rewrite phase (before Lua or proxying). `extra` repeats the
 * location's own add_header lines: an `if` block with add_header of its own inherits none.
 */
function methodGuard(indent: string, extra: string[] = []): string[] {
  return [
    `${indent}if ($cachetier_method_not_allowed) {`,
    ...extra.map((x) => `${indent}  ${x}`),
    `${indent}  add_header Allow "${ALLOWED_METHODS}" always;`,
    `${indent}  return 405 '{"error":"method not allowed"}';`,
    `${indent}}`,
  ];
}

/** server-level lines: a refused request gets a JSON body and Retry-After (only with a limit on). */
function tooManyRequests(lim: OpenRestyLimits): string[] {
  if (lim.requestsPerSecond <= 0 && lim.connections <= 0) return [];
  return [
    '    error_page 429 @cachetier_429;',
    '    location @cachetier_429 {',
    '      add_header Retry-After 1 always;',
    `      return 429 '{"error":"too many requests"}';`,
    '    }',
  ];
}

/** The JSON handed to cachetier.init.init() (Lua reads it with cjson). Exported for unit tests. */
export function luaConfig(tier: ResolvedCacheTier, input: NginxConfigInput): LuaConfig {
  const o = tier.spec.openresty;
  const t = o.upstreamTimeoutMs;
  const redisTimeout = Math.max(50, Math.round(t * 0.15));
  const cfg: LuaConfig = {
    layer: input.layer,
    testEndpoints: input.testEndpoints === true,
    redis: {
      seeds: input.redisSeeds,
      username: input.redisAuth?.username ?? '',
      passwordFile: input.redisAuth?.passwordFile ?? '',
      connectTimeoutMs: redisTimeout,
      timeoutMs: redisTimeout,
      poolSize: 64,
    },
  };
  if (input.memberName) cfg.memberName = input.memberName;
  if (input.layer === 'app') {
    cfg.cache = {
      ttl: o.l1.ttlSeconds,
      jitter: o.l1.jitterPercent,
      neg_ttl: o.l1.negativeTtlSeconds,
      stale_ttl: o.l1.staleTtlSeconds,
      lru_size: o.l1.lruSize,
      timeout: t / 1000,
    };
    cfg.invalidation = { channel: INVALIDATION_CHANNEL };
    cfg.accessLog = {
      enabled: (input.accessLog ?? true) && input.kafkaBrokers.length > 0,
      brokers: input.kafkaBrokers,
      topic: tier.spec.kafka.topics.accessLog.name,
      flush_ms: input.accessLogFlushMs ?? 200,
      socket_timeout: Math.max(200, t),
    };
  } else {
    const up = input.appUpstream;
    if (!up) throw new Error('distribution layer needs appUpstream');
    cfg.dist = {
      members: up.kind === 'static' ? up.servers : [],
      vnodes: input.vnodes ?? 160,
      hot_key: HOT_SET_KEY,
      hot_interval_ms: input.hotPullIntervalMs ?? 1000,
      hot_enabled: input.redisSeeds.length > 0,
    };
    if (up.kind === 'dns') {
      if (!input.resolver) throw new Error('appUpstream kind "dns" needs a resolver');
      cfg.dist.dns = {
        name: up.name,
        port: up.port,
        resolver: input.resolver,
        interval_ms: input.membershipRefreshMs ?? 5000,
      };
    }
  }
  return cfg;
}

export function renderNginxConf(tier: ResolvedCacheTier, input: NginxConfigInput): string {
  const o = tier.spec.openresty;
  const t = o.upstreamTimeoutMs;
  const run = input.runDir.replace(/\/$/, '');
  const lua = input.luaDir.replace(/\/$/, '');
  const testLua = input.testEndpoints && input.testLuaDir ? `${input.testLuaDir.replace(/\/$/, '')}/?.lua;;` : ';';
  const cacheKb = sizeToKb(o.l1.sharedDictSize);
  const negKb = Math.max(1024, Math.floor(cacheKb / 4));
  // One small number per cached key (the highest version served); a key whose entry was evicted
  // is still served right, only through the dict instead of the worker's LRU.
  const versionsKb = Math.max(1024, Math.floor(cacheKb / 8));
  const json = JSON.stringify(luaConfig(tier, input));
  if (json.includes(']==]')) throw new Error('config JSON cannot be embedded in a Lua long string');
  const listen = `${input.listenAddress}:${input.port}`;
  if (input.metricsPort === input.port) throw new Error(`metricsPort must differ from port (${input.port}): /metrics is not served on the public port`);
  const luaCall = (code: string) => `content_by_lua_block { ${code} }`;
  const limits = input.layer === 'app' ? o.app.limits : o.distribution.limits;

  const l: string[] = [];
  const add = (...lines: string[]) => l.push(...lines);
  add(
    '# Rendered by the CacheTier operator (operator/src/render/config/nginx.ts); do not edit.',
    `# layer: ${input.layer}`,
    ...loadLuaModules(input.moduleDir),
    `worker_processes ${input.workerProcesses};`,
    'pcre_jit on; # the app layer matches Accept per request; the distribution layer its location regex',
    `pid ${run}/nginx.pid;`,
    `error_log ${input.errorLog ?? 'stderr'} ${input.errorLogLevel ?? 'warn'};`,
    'env POD_NAME;',
    'env HOSTNAME;',
  );
  add(
    '',
    'events {',
    `  worker_connections ${input.workerConnections ?? 4096};`,
    '}',
    '',
    'http {',
    '  access_log off; # the access log goes to Kafka (app layer)',
    '  server_tokens off;',
    '  default_type application/json;',
    '  keepalive_timeout 65s;',
    '  keepalive_requests 100000;',
    `  client_body_temp_path ${run}/client_body;`,
    `  proxy_temp_path ${run}/proxy;`,
    `  fastcgi_temp_path ${run}/fastcgi;`,
    `  uwsgi_temp_path ${run}/uwsgi;`,
    `  scgi_temp_path ${run}/scgi;`,
    '  client_max_body_size 1m;',
    '  client_body_buffer_size 1m;',
    // A request line up to 16 KB reaches the id rule (a 10 KB productId is a 400 from it, not
    // nginx's 414 at 8 KB); the buffers are only allocated for requests that need them.
    '  large_client_header_buffers 4 16k;',
    '  map $request_method $cachetier_method_not_allowed {',
    '    GET 0;',
    '    HEAD 0;',
    '    default 1;',
    '  }',
    ...limitZones(limits),
    `  lua_package_path '${lua}/?.lua;${lua}/?/init.lua;${testLua}';`,
    '  lua_socket_log_errors off;',
    '  lua_shared_dict metrics 1m;',
    '  lua_shared_dict locks 2m;',
  );
  if (input.resolver) add(`  resolver ${input.resolver} valid=10s ipv6=off;`);
  if (input.layer === 'app') {
    add(
      `  lua_shared_dict cache ${cacheKb}k;`,
      `  lua_shared_dict cache_neg ${negKb}k;`,
      '  lua_shared_dict invalidations 2m;',
      `  lua_shared_dict versions ${versionsKb}k;`,
    );
  } else {
    add('  lua_shared_dict hot 2m;');
  }
  add(
    `  init_by_lua_block { require("cachetier.init").init(require("cjson").decode([==[${json}]==])) }`,
    '  init_worker_by_lua_block { require("cachetier.init").init_worker() }',
    '',
  );

  if (input.layer === 'app') {
    const p = parseUrl(input.producerUrl);
    const memberHeader = `add_header X-App-Member ${appMemberValue(input.memberName)} always;`;
    const l3 = Math.max(100, Math.round(t * 0.7));
    add(
      '  upstream cachetier_producer {',
      `    server ${p.host}:${p.port} max_fails=0;`,
      '    keepalive 64;',
      '  }',
      '',
      '  server {',
      `    listen ${listen} backlog=4096 reuseport;`,
      '    location = /healthz { access_log off; ' + luaCall('require("cachetier.init").healthz()') + ' }',
      ...tooManyRequests(limits),
      // Response parts that don't need Lua stay in nginx (each Lua header write or ngx.var read
      // is a per-request FFI call): the member header, and Accept: text/html -> the HTML page.
      '    location = /product {',
      `      ${memberHeader}`,
      ...methodGuard('      ', [memberHeader]),
      ...limitRules(limits, '      '),
      '      if ($http_accept ~ "text/html") { rewrite ^ /product.html last; }',
      '      ' + luaCall('require("cachetier.app").product()'),
      '    }',
      '    location = /product.html {',
      `      ${memberHeader}`,
      ...methodGuard('      ', [memberHeader]),
      ...limitRules(limits, '      '),
      '      ' + luaCall('require("cachetier.app").product_html()'),
      '    }',
      '    # L3: the cache-producer, only reachable through ngx.location.capture',
      '    location /_l3/ {',
      '      internal;',
      `      proxy_pass http://cachetier_producer${p.path}/;`,
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '      proxy_set_header Accept application/json;',
      '      proxy_pass_request_body off;',
      '      proxy_set_header Content-Length "";',
      `      proxy_connect_timeout ${l3}ms;`,
      `      proxy_send_timeout ${l3}ms;`,
      `      proxy_read_timeout ${l3}ms;`,
      '      proxy_next_upstream off;',
      '      proxy_intercept_errors off;',
      '    }',
    );
  } else {
    add(
      '  upstream cachetier_app {',
      '    server 0.0.0.1:1; # placeholder: balancer_by_lua picks the member',
      '    balancer_by_lua_block { require("cachetier.dist").balance() }',
      '    keepalive 256;',
      '  }',
      '',
      '  server {',
      `    listen ${listen} backlog=4096 reuseport;`,
      '    location = /healthz { access_log off; ' + luaCall('require("cachetier.init").healthz()') + ' }',
      ...tooManyRequests(limits),
      '    location ~ ^/product(\\.html)?$ {',
      ...methodGuard('      '),
      ...limitRules(limits, '      '),
      '      access_by_lua_block { require("cachetier.dist").route() }',
      '      header_filter_by_lua_block { require("cachetier.dist").header_filter() }',
      '      proxy_pass http://cachetier_app;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      `      proxy_connect_timeout ${Math.max(100, t)}ms;`,
      `      proxy_send_timeout ${2 * t + 1000}ms;`,
      `      proxy_read_timeout ${2 * t + 1000}ms;`,
      '      proxy_next_upstream error;',
      '      proxy_next_upstream_tries 2;',
      '    }',
    );
  }
  if (input.testEndpoints) {
    add(
      '    # test-only endpoints (NginxConfigInput.testEndpoints)',
      '    location = /_cachetier/keyslot { ' + luaCall('require("cachetier.testapi").keyslot()') + ' }',
      '    location = /_cachetier/state { ' + luaCall('require("cachetier.testapi").state()') + ' }',
    );
    if (input.layer === 'distribution') {
      add('    location = /_cachetier/route { ' + luaCall('require("cachetier.testapi").route()') + ' }');
    } else {
      add(
        '    location = /_cachetier/kafka-encode { ' + luaCall('require("cachetier.testapi").kafka_encode()') + ' }',
        '    location = /_cachetier/fresh { ' + luaCall('require("cachetier.testapi").fresh()') + ' }',
      );
    }
  }
  add(
    '    location / { return 404 \'{"error":"not found"}\'; }',
    '  }',
    '',
    '  server {',
    '    # a port of its own (`metrics`): only monitoring peers may reach it',
    `    listen ${input.listenAddress}:${input.metricsPort};`,
    '    location = /metrics { ' + luaCall('require("cachetier.metrics").handler()') + ' }',
    '    location / { return 404 \'{"error":"not found"}\'; }',
    '  }',
    '}',
    '',
  );
  return l.join('\n');
}
