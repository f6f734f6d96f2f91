import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'charts/**', '**/*.lua'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  // The contract package is the only thing operator and workloads share: neither imports the
  // other's source (each image ships only its own code), and the contract imports neither.
  ...[
    ['packages/*/src/**/*.ts', ['operator', 'workloads']],
    ['operator/src/**/*.ts', ['workloads']],
    ['workloads/cache-producer/src/**/*.ts', ['operator', 'source-service']],
    ['workloads/source-service/src/**/*.ts', ['operator', 'cache-producer']],
  ].map(([files, forbidden]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: forbidden.map((d) => `**/${d}/**`), message: 'shared names belong in packages/contract' }] },
      ],
    },
  })),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
