import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { findPostgresBinaries } from './find-postgres-binaries.js';

describe('findPostgresBinaries', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reports none when PG_BINDIR names a directory without the server binaries', () => {
    vi.stubEnv('PG_BINDIR', '/nonexistent/postgresql/bin');
    expect(findPostgresBinaries()).toBeUndefined();
  });

  it('uses the directory PG_BINDIR names when it holds initdb, pg_ctl and postgres', () => {
    const directory = mkdtempSync(join(tmpdir(), 'enhanced-pool-bindir-'));
    try {
      for (const name of ['initdb', 'pg_ctl', 'postgres']) writeFileSync(join(directory, name), '');
      vi.stubEnv('PG_BINDIR', directory);
      expect(findPostgresBinaries()).toBe(directory);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
