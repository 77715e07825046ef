// Jest runs the TypeScript sources as native ESM (NestJS 12 is ESM-only), transformed by swc,
// which needs no TypeScript compiler API (TypeScript 7 has a new one). `npm test` passes
// --experimental-vm-modules.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The long lanes run apart from `npm test` (CI runs every lane): fault injection (killed
  // workers, a restarted Temporal, 1,000 steps; `npm run test:faults`) and Kubernetes (a real
  // kube-apiserver and helm; `npm run test:k8s`) and the API fuzzed by schemathesis (`npm run
  // test:fuzz`) and the web console in Chromium (`npm run test:console`); `npm run test:cluster`
  // runs the workflow, API and fault suites on a Temporal cluster (ERRAND_TEST_TEMPORAL=cluster,
  // test/support/global-setup.mjs), and there two workers and two APIs on one bucket (test/replicas). ERRAND_TEST_LANE names the lane being run.
  testPathIgnorePatterns: process.env.ERRAND_TEST_LANE ? ['/node_modules/'] : ['/node_modules/', '<rootDir>/test/faults/', '<rootDir>/test/k8s/', '<rootDir>/test/fuzz/', '<rootDir>/test/console/', '<rootDir>/test/replicas/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true }, target: 'es2022' },
        module: { type: 'es6' },
      },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  testTimeout: process.env.ERRAND_TEST_LANE ? 600_000 : 120_000,
  maxWorkers: 2,
};
