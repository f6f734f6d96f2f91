// Recorded pod lists for the roll planners' tests.
import type { RollPod } from '../../../src/roll/types.js';

/** Pods <base>-0..n-1 on 10.0.0.<10+i>; `stale` ordinals run the old revision. */
export function pods(base: string, n: number, stale: number[] = [], over: Record<number, Partial<RollPod>> = {}): RollPod[] {
  return Array.from({ length: n }, (_, i) => ({
    pod: `${base}-${i}`,
    ordinal: i,
    host: `10.0.0.${10 + i}`,
    current: !stale.includes(i),
    ready: true,
    terminating: false,
    ...over[i],
  }));
}
