import { defineConfig } from 'vitest/config';

// The integration tests start a real redis-server (about 50 ms) and two child processes.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
