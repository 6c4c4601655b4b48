import { defineConfig } from 'vitest/config';

// Unit tests drive a fake clock and never wait; integration tests start a real PostgreSQL
// (about 1 s), run real queries and inject real faults, so only they get the longer limits.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['src/**/*.integration.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
