// The narrow connection seam the executor talks through: one plain (non-cluster) ioredis
// connection per member. Tests of the executor logic substitute a fake RedisConn.
import { Redis } from 'ioredis';

export type Arg = string | number;

export interface RedisConn {
  call(...args: Arg[]): Promise<unknown>;
  close(): void;
}

export type ConnFactory = (host: string, port: number, password: string | undefined, username?: string) => RedisConn;

export function ioredisFactory(timeoutMs: number): ConnFactory {
  return (host, port, password, username) => {
    const r = new Redis({
      host,
      port,
      username,
      password,
      lazyConnect: false,
      connectTimeout: Math.min(timeoutMs, 5000),
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
      retryStrategy: () => null, // one attempt per reconcile; the next reconcile retries
      enableReadyCheck: false,
    });
    r.on('error', () => undefined); // surfaced through the failing command instead
    return {
      call: (...args: Arg[]) => r.call(String(args[0]), ...args.slice(1)),
      close: () => r.disconnect(),
    };
  };
}

/** Connections for one reconcile, keyed by address; closed at its end. */
export class ConnPool {
  private readonly conns = new Map<string, RedisConn>();
  constructor(
    private readonly factory: ConnFactory,
    private readonly password: string | undefined,
    private readonly username?: string,
  ) {}
  get(host: string, port: number): RedisConn {
    const k = `${host}:${port}`;
    let c = this.conns.get(k);
    if (!c) {
      c = this.factory(host, port, this.password, this.username);
      this.conns.set(k, c);
    }
    return c;
  }
  closeAll(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}

export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
