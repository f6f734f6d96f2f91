// cluster-key-slot ships no types: the one function tests and benchmarks use.
declare module 'cluster-key-slot' {
  /** Redis Cluster hash slot of a key (CRC16 mod 16384), honouring {hash tags}. */
  export default function calculateSlot(key: string | Buffer): number;
}
