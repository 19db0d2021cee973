import { defineConfig } from 'vitest/config';

// Lets the package run its own tests (`pnpm test` here); the repository's root config runs them too.
export default defineConfig({
  resolve: { conditions: ['@switchyard/source'] },
  ssr: { resolve: { conditions: ['@switchyard/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
