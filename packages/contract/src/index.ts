// The names the operator and the workloads share, and nothing else: no dependencies, no I/O.
// Both sides import this package; neither imports the other.
export * from './ports.js';
export * from './redis.js';
export * from './producer-env.js';
export * from './lua-config.js';
export * from './record-version.js';
export * from './ids.js';
