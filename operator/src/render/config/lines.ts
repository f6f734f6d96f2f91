// Free-form config maps (spec.zookeeper.config, spec.kafka.config, spec.redis.config) are written
// into line-based files (zoo.cfg, server.properties, redis.conf): a CR or LF in a key or value
// would start a directive of its own (a second `listeners=` or `rename-command`), a NUL would cut
// it. The CRD refuses them at admission; this is the renderer's own check for whatever got past
// (an older CRD, a test harness), so such a spec fails to render (Ready False, RenderFailed)
// instead of being written.

/** CR, LF or NUL. */
const LINE_BREAKING = /[\r\n\0]/;

function show(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
}

/** Throws when a key or value of `config` (found at `field`, e.g. "spec.kafka.config") has a CR, LF or NUL. */
export function assertSingleLineConfig(field: string, config: Record<string, string>): void {
  for (const [k, v] of Object.entries(config)) {
    if (LINE_BREAKING.test(k)) {
      throw new Error(`${field}: keys and values must not contain CR, LF or NUL (key ${show(k)}; remove the line breaks)`);
    }
    if (LINE_BREAKING.test(String(v))) {
      throw new Error(`${field}: keys and values must not contain CR, LF or NUL (value of ${show(k)}; remove the line breaks)`);
    }
  }
}
