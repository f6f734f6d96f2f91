// Key properties of the rendered nginx.conf (the integration tests start nginx with the same
// renderer; these pin what the shipped config must contain).
import { localTier } from '../../../../hack/local/nginx.js';
import { ALLOWED_METHODS, appMemberValue, luaConfig, renderNginxConf, sizeToKb, type NginxConfigInput } from '../../../src/render/config/nginx.js';
import { HOT_SET_KEY, INVALIDATION_CHANNEL } from '../../../../packages/contract/src/index.js';

const base: NginxConfigInput = {
  layer: 'app',
  listenAddress: '0.0.0.0',
  port: 8080,
  metricsPort: 9145,
  luaDir: '/opt/cachetier/lua',
  workerProcesses: 'auto',
  runDir: '/tmp/nginx',
  redisSeeds: ['redis-0.redis.ns.svc.cluster.local:6379', 'redis-1.redis.ns.svc.cluster.local:6379'],
  producerUrl: 'http://producer.ns.svc.cluster.local:8080',
  kafkaBrokers: ['kafka-0.kafka.ns.svc.cluster.local:9092'],
  resolver: 'kube-dns.kube-system.svc.cluster.local',
};

function embeddedConfig(conf: string): Record<string, unknown> {
  const m = /init_by_lua_block \{ require\("cachetier.init"\).init\(require\("cjson"\).decode\(\[==\[(.*)\]==\]\)\) \}/.exec(conf);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]) as Record<string, unknown>;
}

/** The text of the block opened by `header` (nested blocks included; braces in strings balance). */
function locationBlock(conf: string, header: string): string {
  const start = conf.indexOf(header);
  expect(start).toBeGreaterThanOrEqual(0);
  let depth = 0;
  for (let i = conf.indexOf('{', start); i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    else if (conf[i] === '}' && --depth === 0) return conf.slice(start, i + 1);
  }
  throw new Error(`unterminated block: ${header}`);
}

/** Checks a /product location: the method guard first, then the limits, then anything else. */
function expectGuarded(block: string, limits: { rps: number; burst: number; conns: number } | null): void {
  const guard = block.indexOf('if ($cachetier_method_not_allowed) {');
  expect(guard).toBeGreaterThan(0);
  const guardBlock = locationBlock(block, 'if ($cachetier_method_not_allowed) {');
  expect(guardBlock).toContain(`add_header Allow "${ALLOWED_METHODS}" always;`);
  expect(guardBlock).toContain("return 405 '{\"error\":\"method not allowed\"}';");
  const rest = block.slice(guard + guardBlock.length);
  if (limits === null) {
    expect(block).not.toMatch(/limit_(req|conn) /);
    return;
  }
  if (limits.rps > 0) expect(rest).toContain(`limit_req zone=cachetier_req burst=${limits.burst} nodelay;`);
  else expect(block).not.toContain('limit_req ');
  if (limits.conns > 0) expect(rest).toContain(`limit_conn cachetier_conn ${limits.conns};`);
  else expect(block).not.toContain('limit_conn ');
  // the limits come before any Lua phase or proxying in the block
  const firstLimit = rest.search(/limit_(req|conn) /);
  const firstWork = rest.search(/(access|content)_by_lua_block|proxy_pass|rewrite /);
  expect(firstLimit).toBeLessThan(firstWork);
}

describe('renderNginxConf: methods, request size and flood limits (both layers)', () => {
  const dist: NginxConfigInput = { ...base, layer: 'distribution', appUpstream: { kind: 'static', servers: ['10.0.0.1:8080'] } };

  test('GET and HEAD only on every /product location, answered 405 with Allow before Lua or proxying', () => {
    expect(ALLOWED_METHODS).toBe('GET, HEAD');
    for (const input of [base, dist]) {
      const conf = renderNginxConf(localTier(), input);
      expect(conf).toMatch(/map \$request_method \$cachetier_method_not_allowed \{\s+GET 0;\s+HEAD 0;\s+default 1;\s+\}/);
      const headers = input.layer === 'app' ? ['location = /product {', 'location = /product.html {'] : ['location ~ ^/product(\\.html)?$ {'];
      for (const h of headers) expectGuarded(locationBlock(conf, h), { rps: input.layer === 'app' ? 100000 : 5000, burst: input.layer === 'app' ? 100000 : 10000, conns: input.layer === 'app' ? 10000 : 1000 });
    }
    // an if block with add_header of its own inherits none: the app member header is repeated
    const app = locationBlock(renderNginxConf(localTier(), base), 'location = /product {');
    expect(locationBlock(app, 'if ($cachetier_method_not_allowed) {')).toContain('add_header X-App-Member $hostname always;');
  });

  test('a 10 KB query string reaches the id rule (16 KB request-line buffers), on both layers', () => {
    for (const input of [base, dist]) expect(renderNginxConf(localTier(), input)).toContain('large_client_header_buffers 4 16k;');
  });

  test('flood limits come from spec.openresty.<layer>.limits, per client address, 429 with Retry-After', () => {
    const tier = localTier({
      openresty: {
        distribution: { limits: { requestsPerSecond: 7, burst: 3, connections: 11 } },
        app: { limits: { requestsPerSecond: 70, burst: 30, connections: 110 } },
      },
    });
    const d = renderNginxConf(tier, dist);
    expect(d).toContain('limit_req_zone $binary_remote_addr zone=cachetier_req:10m rate=7r/s;');
    expect(d).toContain('limit_conn_zone $binary_remote_addr zone=cachetier_conn:10m;');
    expectGuarded(locationBlock(d, 'location ~ ^/product(\\.html)?$ {'), { rps: 7, burst: 3, conns: 11 });
    const a = renderNginxConf(tier, base);
    expect(a).toContain('rate=70r/s;');
    expectGuarded(locationBlock(a, 'location = /product {'), { rps: 70, burst: 30, conns: 110 });
    expectGuarded(locationBlock(a, 'location = /product.html {'), { rps: 70, burst: 30, conns: 110 });
    for (const c of [a, d]) {
      expect(c).toContain('limit_req_status 429;');
      expect(c).toContain('limit_conn_status 429;');
      expect(c).toContain('error_page 429 @cachetier_429;');
      expect(locationBlock(c, 'location @cachetier_429 {')).toMatch(/add_header Retry-After 1 always;\s+return 429 '\{"error":"too many requests"\}';/);
      // probes and scrapes are never limited
      expect(locationBlock(c, 'location = /healthz')).not.toContain('limit_');
      expect(locationBlock(c, 'location = /metrics')).not.toContain('limit_');
    }
  });

  test('0 turns each limit off (and with both off, no zone and no 429 page)', () => {
    const noRate = localTier({ openresty: { app: { limits: { requestsPerSecond: 0 } } } });
    const a = renderNginxConf(noRate, base);
    expect(a).not.toContain('limit_req');
    expect(a).toContain('limit_conn cachetier_conn 10000;');
    expectGuarded(locationBlock(a, 'location = /product {'), { rps: 0, burst: 0, conns: 10000 });
    const off = localTier({ openresty: { distribution: { limits: { requestsPerSecond: 0, connections: 0 } } } });
    const d = renderNginxConf(off, dist);
    expect(d).not.toContain('limit_');
    expect(d).not.toContain('429');
    expectGuarded(locationBlock(d, 'location ~ ^/product(\\.html)?$ {'), null);
    // burst 0: no burst parameter (limit_req then refuses anything above the rate at once)
    const noBurst = renderNginxConf(localTier({ openresty: { app: { limits: { burst: 0 } } } }), base);
    expect(noBurst).toContain('limit_req zone=cachetier_req nodelay;');
  });
});

describe('renderNginxConf (app layer)', () => {
  const tier = localTier({ openresty: { upstreamTimeoutMs: 1000, l1: { sharedDictSize: '64m', ttlSeconds: 42, jitterPercent: 15, negativeTtlSeconds: 7, staleTtlSeconds: 99, lruSize: 321 } } });
  const conf = renderNginxConf(tier, base);

  test('loads the Debian ndk + lua modules, ndk first', () => {
    const ndk = conf.indexOf('load_module /usr/lib/nginx/modules/ndk_http_module.so;');
    const lua = conf.indexOf('load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;');
    expect(ndk).toBeGreaterThanOrEqual(0);
    expect(lua).toBeGreaterThan(ndk);
  });

  test('writable paths all under runDir; lua_package_path starts with luaDir', () => {
    expect(conf).toContain('pid /tmp/nginx/nginx.pid;');
    for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) expect(conf).toContain(`/tmp/nginx/${d};`);
    expect(conf).toContain("lua_package_path '/opt/cachetier/lua/?.lua;/opt/cachetier/lua/?/init.lua;;';");
    expect(conf).toContain('error_log stderr warn;');
    expect(conf).toContain('resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;');
  });

  test('shared dicts sized from spec.openresty.l1; negatives in their own dict', () => {
    expect(conf).toContain('lua_shared_dict cache 65536k;');
    expect(conf).toContain('lua_shared_dict cache_neg 16384k;');
    expect(conf).toMatch(/lua_shared_dict locks \d+m;/);
    expect(conf).toMatch(/lua_shared_dict invalidations \d+m;/);
    // monotonic reads: the highest version served per key, shared by the workers
    expect(conf).toContain('lua_shared_dict versions 8192k;');
    expect(renderNginxConf(localTier({ openresty: { l1: { sharedDictSize: '2m' } } }), base)).toContain('lua_shared_dict versions 1024k;');
    expect(conf).not.toContain('lua_shared_dict hot');
  });

  test('L3 is an internal proxy_pass location to the producer with timeouts below the budget', () => {
    expect(conf).toContain('server producer.ns.svc.cluster.local:8080 max_fails=0;');
    const l3 = conf.slice(conf.indexOf('location /_l3/'));
    expect(l3).toMatch(/^location \/_l3\/ \{\s+internal;/);
    expect(l3).toContain('proxy_pass http://cachetier_producer/;');
    expect(l3).toContain('proxy_read_timeout 700ms;');
    expect(l3).toContain('proxy_connect_timeout 700ms;');
    expect(l3).toContain('proxy_next_upstream off;');
  });

  test('/metrics only in a server of its own on the metrics port; the public server has none (its catch-all 404s it)', () => {
    for (const layer of ['app', 'distribution'] as const) {
      const input: NginxConfigInput = layer === 'app' ? base : { ...base, layer, appUpstream: { kind: 'static', servers: ['10.0.0.1:8080'] } };
      const c = renderNginxConf(tier, input);
      const servers = c.split(/\n {2}server \{\n/).slice(1);
      expect(servers).toHaveLength(2);
      const [pub, met] = servers;
      expect(pub).toContain('listen 0.0.0.0:8080 ');
      expect(pub).not.toContain('/metrics');
      expect(pub).toContain('location = /healthz');
      expect(pub).toContain(`location / { return 404 '{"error":"not found"}'; }`);
      expect(met).toMatch(/^\s+# [^\n]*\n\s+listen 0\.0\.0\.0:9145;\n\s+location = \/metrics \{ content_by_lua_block \{ require\("cachetier.metrics"\).handler\(\) \} \}\n\s+location \/ \{ return 404/);
      expect(met).not.toContain('healthz');
      expect(met).not.toContain('product');
    }
    expect(() => renderNginxConf(tier, { ...base, metricsPort: 8080 })).toThrow(/metricsPort must differ/);
  });

  test('routes: /product, /product.html, /metrics, /healthz; no test endpoints by default', () => {
    expect(conf).toMatch(/location = \/product \{[\s\S]*?\n\s+content_by_lua_block \{ require\("cachetier.app"\).product\(\) \}\n\s+\}/);
    // the access log is handed over at the end of the content handler: no second Lua entry per request
    expect(conf).not.toContain('log_by_lua');
    expect(conf).toContain('location = /product.html {');
    expect(conf).toContain('location = /metrics');
    expect(conf).toContain('location = /healthz');
    expect(conf).not.toContain('/_cachetier/');
    const withTest = renderNginxConf(tier, { ...base, testEndpoints: true });
    for (const l of ['keyslot', 'state', 'kafka-encode', 'fresh']) expect(withTest).toContain(`location = /_cachetier/${l} {`);
  });

  test('X-App-Member and the Accept: text/html switch are done by nginx, not Lua', () => {
    // no memberName: $hostname (the pod name in Kubernetes)
    const product = locationBlock(conf, 'location = /product {');
    expect(product).toMatch(/^location = \/product \{\s+add_header X-App-Member \$hostname always;/);
    expect(product).toContain('if ($http_accept ~ "text/html") { rewrite ^ /product.html last; }');
    expect(conf).toMatch(/location = \/product\.html \{\s+add_header X-App-Member \$hostname always;/);
    const named = renderNginxConf(tier, { ...base, memberName: 'app-0.cachetier:8080' });
    expect(named).toContain('add_header X-App-Member "app-0.cachetier:8080" always;');
    expect(appMemberValue(undefined)).toBe('$hostname');
    expect(appMemberValue('app@127.0.4.71')).toBe('"app@127.0.4.71"'); // the demo's member names
    expect(() => appMemberValue('bad"name')).toThrow(/memberName/);
    expect(() => appMemberValue('a;b')).toThrow(/memberName/);
    expect(() => appMemberValue('$host')).toThrow(/memberName/);
    expect(() => appMemberValue('a b')).toThrow(/memberName/);
  });

  test('the embedded Lua config carries the spec and the data contracts', () => {
    const cfg = embeddedConfig(conf);
    expect(cfg).toMatchObject({
      layer: 'app',
      cache: { ttl: 42, jitter: 15, neg_ttl: 7, stale_ttl: 99, lru_size: 321, timeout: 1 },
      invalidation: { channel: INVALIDATION_CHANNEL },
      accessLog: { enabled: true, brokers: base.kafkaBrokers, topic: 'access-log' },
      redis: { seeds: base.redisSeeds, username: '', passwordFile: '' },
    });
    expect(cfg).toEqual(luaConfig(tier, base));
  });

  test('Redis: the ACL user and its password file path, never a password or an env var for it', () => {
    const c = renderNginxConf(tier, { ...base, redisAuth: { username: 'openresty-app', passwordFile: '/run/pw' } });
    expect(c).not.toMatch(/env REDIS_PASSWORD/);
    expect(embeddedConfig(c)).toMatchObject({ redis: { username: 'openresty-app', passwordFile: '/run/pw' } });
  });

  test('no Kafka brokers -> access log disabled, not failing', () => {
    expect(embeddedConfig(renderNginxConf(tier, { ...base, kafkaBrokers: [] }))).toMatchObject({ accessLog: { enabled: false } });
  });
});

describe('renderNginxConf (distribution layer)', () => {
  const tier = localTier();
  const dist: NginxConfigInput = { ...base, layer: 'distribution', appUpstream: { kind: 'dns', name: 'app-headless.ns.svc.cluster.local', port: 8080 } };

  test('balancer_by_lua upstream with keepalive, routing in access phase, hot set from Redis', () => {
    const c = renderNginxConf(tier, dist);
    expect(c).toContain('balancer_by_lua_block { require("cachetier.dist").balance() }');
    expect(c).toMatch(/upstream cachetier_app \{[\s\S]*?keepalive \d+;\s+\}/);
    expect(c).toContain('access_by_lua_block { require("cachetier.dist").route() }');
    expect(c).toContain('lua_shared_dict hot');
    expect(c).not.toContain('lua_shared_dict cache ');
    expect(c).not.toContain('/_l3/');
    expect(embeddedConfig(c)).toMatchObject({
      layer: 'distribution',
      dist: { hot_key: HOT_SET_KEY, vnodes: 160, dns: { name: 'app-headless.ns.svc.cluster.local', port: 8080, resolver: base.resolver } },
    });
  });

  test('static membership; invalid inputs are refused', () => {
    const c = renderNginxConf(tier, { ...dist, appUpstream: { kind: 'static', servers: ['10.0.0.1:8080', '10.0.0.2:8080'] } });
    expect(embeddedConfig(c)).toMatchObject({ dist: { members: ['10.0.0.1:8080', '10.0.0.2:8080'] } });
    expect(() => renderNginxConf(tier, { ...dist, appUpstream: undefined })).toThrow(/appUpstream/);
    expect(() => renderNginxConf(tier, { ...dist, resolver: undefined })).toThrow(/resolver/);
    expect(() => renderNginxConf(tier, { ...base, producerUrl: 'https://x:1' })).toThrow(/http/);
  });
});

test('sizeToKb', () => {
  expect(sizeToKb('64m')).toBe(65536);
  expect(sizeToKb('512k')).toBe(512);
  expect(sizeToKb('1g')).toBe(1048576);
  expect(sizeToKb('2048')).toBe(2);
  expect(() => sizeToKb('lots')).toThrow();
});
