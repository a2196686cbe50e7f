import { configDefaults, defineConfig } from 'vitest/config'

/** Tests that drive a real browser; their project's global set-up finds or installs Chromium. */
const BROWSER_TESTS = ['test/dashboard-*.test.ts', 'test/nat-namespaces.test.ts']

export default defineConfig({
  test: {
    setupFiles: ['./test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Multi-node tests open many sockets; two workers match the 2-core CI machine.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...BROWSER_TESTS],
        },
      },
      {
        extends: true,
        test: { name: 'browser', include: BROWSER_TESTS, globalSetup: ['./test/browser-setup.ts'] },
      },
    ],
  },
})
