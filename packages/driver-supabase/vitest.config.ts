import { defineConfig } from 'vitest/config';

// Integration tests start a real PostgreSQL (about 1 s) and restart it; unit tests never wait.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
