// spec.{zookeeper,kafka,redis}.config land in line-based files: a CR, LF or NUL in a key or value
// would smuggle in a directive of its own. The renderers refuse them (the CRD does too).
import { renderAll } from '../../../src/render/index.js';
import { assertSingleLineConfig } from '../../../src/render/config/lines.js';
import { makeTier } from './helpers.js';

describe('config maps refuse CR, LF and NUL', () => {
  test.each([
    ['zookeeper', 'spec.zookeeper.config', { tickTime: '2000\nadmin.enableServer=true' }],
    ['kafka', 'spec.kafka.config', { 'log.retention.hours': '1\nlisteners=PLAINTEXT://:9999' }],
    ['kafka', 'spec.kafka.config', { 'a\rb': '1' }],
    ['redis', 'spec.redis.config', { 'maxclients 10\nrename-command': 'CONFIG ""' }],
    ['redis', 'spec.redis.config', { maxclients: '10\0' }],
  ] as const)('%s: %s with a line break or NUL does not render, and the error names the field', (component, field, config) => {
    expect(() => renderAll(makeTier({ [component]: { config } }))).toThrow(`${field}: keys and values must not contain CR, LF or NUL`);
  });

  test('the error says whether the key or the value is at fault, and shortens long ones', () => {
    expect(() => assertSingleLineConfig('spec.kafka.config', { 'x\n': 'y' })).toThrow('(key "x\\n"');
    expect(() => assertSingleLineConfig('spec.kafka.config', { x: 'a'.repeat(100) + '\r' })).toThrow(/value of "x"; remove the line breaks/);
  });

  test('ordinary values (spaces, tabs, quotes, =, #) still render', () => {
    const objs = renderAll(makeTier({ kafka: { config: { 'log.cleaner.enable': 'true' } }, redis: { config: { 'save': '900 1\t300 10' } } }));
    const redis = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'shop-redis-config') as unknown as { data: Record<string, string> };
    expect(redis.data['redis.conf']).toContain('save 900 1\t300 10');
  });
});
