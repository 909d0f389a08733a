import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests import @parley/client from its TypeScript source (the `parley-source` export condition).
  ssr: { resolve: { conditions: ['parley-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test/support/client-library-setup.ts', 'test/support/web-client-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits up to 10 s (not 1 s): on a busy 2-core machine a live update can take
    // seconds, and a poll that succeeds returns at once.
    expect: { poll: { timeout: 10_000 } },
    // Each e2e file boots its own app on port 0; two at a time suits a 2-core machine.
    maxWorkers: 2,
    // The JSON report lets .ci/run print one closing 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
