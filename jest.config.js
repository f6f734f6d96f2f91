// Two tiers: `unit` (no servers, under a minute: `npm test`) and `integration` (real redis-server,
// ZooKeeper, Kafka, nginx started by hack/ scripts: `make test-integration`). ESM throughout because
// @kubernetes/client-node 1.x is ESM-only.
const tsJest = [
  'ts-jest',
  { useESM: true, isolatedModules: true, tsconfig: 'tsconfig.json', diagnostics: false },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};
export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/operator/test/unit/**/*.test.ts', '<rootDir>/workloads/*/test/unit/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/**/test/integration/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    },
    {
      ...common,
      displayName: 'controlplane',
      testMatch: ['<rootDir>/operator/test/controlplane/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.test.ts'],
    },
  ],
};
