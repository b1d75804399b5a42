// ESLint for the library, its tests, benchmarks and examples (`npm run lint`, after the dependency
// rules in .dependency-cruiser.cjs). Correctness rules only: formatting is left to the authors.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/']),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // One program for every file; see the comment in tsconfig.eslint.json.
        project: './tsconfig.eslint.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: ['error', 'always'],
      // verbatimModuleSyntax keeps every import that is not marked `type`, so a type imported as a
      // value becomes a runtime import (and, for the optional @opentelemetry/api peer, a crash).
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      // `import { type A } from 'x'` still loads 'x' under verbatimModuleSyntax; `import type` does not.
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportDefaultDeclaration',
          message: 'lib/ has named exports only: a default export has no name to grep for or re-export by.',
        },
        {
          selector: 'ExportSpecifier[exported.name="default"]',
          message: 'lib/ has named exports only: a default export has no name to grep for or re-export by.',
        },
      ],
    },
  },
  {
    files: ['lib/index.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Program > :not(ExportNamedDeclaration[source], ExportAllDeclaration[exported])',
          message: 'lib/index.ts holds named re-exports only (`export { a } from` / `export * as ns from`); define things in the module that owns them.',
        },
        {
          selector: 'ExportSpecifier[exported.name="default"]',
          message: 'lib/index.ts has named exports only.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // node:test's describe/it/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
