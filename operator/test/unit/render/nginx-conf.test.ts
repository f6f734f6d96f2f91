// Key properties of the rendered nginx.conf (the integration tests start nginx with the same
// renderer; these pin what the shipped config must contain).
import { localTier } from '../../../../hack/local/nginx.js';
import { appMemberValue, luaConfig, renderNginxConf, sizeToKb, type NginxConfigInput } from '../../../src/render/config/nginx.js';
import { HOT_SET_KEY, INVALIDATION_CHANNEL } from '../../../../packages/contract/src/index.js';

const base: NginxConfigInput = {
  layer: 'app',
  listenAddress: '0.0.0.0',
  port: 8080,
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
    expect(conf).toMatch(/location = \/product \{\s+add_header X-App-Member \$hostname always;\s+if \(\$http_accept ~ "text\/html"\) \{ rewrite \^ \/product\.html last; \}/);
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
      redis: { seeds: base.redisSeeds, passwordEnv: '' },
    });
    expect(cfg).toEqual(luaConfig(tier, base));
  });

  test('Redis password comes from an env var declared to nginx, never from the file', () => {
    const c = renderNginxConf(tier, { ...base, redisPasswordEnv: 'REDIS_PASSWORD' });
    expect(c).toContain('env REDIS_PASSWORD;');
    expect(embeddedConfig(c)).toMatchObject({ redis: { passwordEnv: 'REDIS_PASSWORD' } });
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
