import { defineConfig } from 'vitest/config';

// Unit tests use the fake clock; the integration test starts a real PostgreSQL (about 1 s).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
