import { defineConfig } from 'vitest/config';

// Integration tests start real PostgreSQL servers (about 1 s each), so they get longer limits.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
