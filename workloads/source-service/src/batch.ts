// How the source service sends a batch of change messages: one produce call per key, all at once.
// kafkajs (2.2.4, tulios/kafkajs#1303) can drop messages of a send that spans several partition
// leaders when one leader moves while the send retries, and still resolve it as delivered: a
// broker roll would lose acknowledged changes. One key is one partition, so no send spans two.
export interface Keyed {
  key: string;
}

/** The batch split by key, each group in arrival order (a key's changes stay in order). */
export function groupByKey<T extends Keyed>(batch: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of batch) {
    const g = groups.get(item.key);
    if (g) g.push(item);
    else groups.set(item.key, [item]);
  }
  return [...groups.values()];
}
