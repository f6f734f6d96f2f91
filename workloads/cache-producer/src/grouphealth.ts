// Whether a kafkajs consumer is really in its group: kafkajs keeps "joined" through a long
// outage while it retries, so membership alone says nothing when every broker is down. Up =
// joined and a heartbeat went through recently (an idle consumer still heartbeats every few
// seconds from its fetch loop). Dead = a crash kafkajs will not restart: the pod must restart.
import type { Consumer } from 'kafkajs';

/** No successful heartbeat for this long: the consumer counts as down. */
export const HEARTBEAT_STALE_MS = 15_000;

export class GroupHealth {
  private joined = false;
  private lastBeat = 0;
  /** Why the consumer is gone for good (a crash without restart), if it is. */
  dead: string | undefined;

  constructor(consumer: Consumer, isStopping: () => boolean = () => false) {
    const ev = consumer.events;
    consumer.on(ev.GROUP_JOIN, () => {
      this.joined = true;
      this.lastBeat = Date.now();
    });
    consumer.on(ev.HEARTBEAT, () => (this.lastBeat = Date.now()));
    consumer.on(ev.REBALANCING, () => (this.joined = false));
    consumer.on(ev.STOP, () => (this.joined = false));
    consumer.on(ev.CRASH, (e) => {
      this.joined = false;
      if (!e.payload.restart && !isStopping()) this.dead = `consumer crashed and will not restart: ${String(e.payload.error).slice(0, 200)}`;
    });
  }

  up(now = Date.now()): boolean {
    return this.joined && now - this.lastBeat < HEARTBEAT_STALE_MS;
  }
}
