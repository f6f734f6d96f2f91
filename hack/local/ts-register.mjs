// Runs a TypeScript file of this repository directly, without a build: the repository has no tsx
// or ts-node, and Node 20 does not strip types. Usage: node --import ./hack/local/ts-register.mjs x.ts
// The integration tier uses it for helpers that must run as their own process (e.g. the roller
// the roll test SIGKILLs mid-roll). Transpile only (no type check: `make lint` does that).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
