import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const REQUIRED = ['initdb', 'pg_ctl', 'postgres'] as const;

function hasServerBinaries(directory: string): boolean {
  return REQUIRED.every((name) => existsSync(join(directory, name)));
}

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`: `PG_BINDIR` when set (and
 * `undefined` if that directory lacks them, so `PG_BINDIR=/nonexistent` shows what a machine
 * without a server does), else the newest `/usr/lib/postgresql/<major>/bin` (Debian/Ubuntu), else
 * `pg_config --bindir`, else `undefined` (no server on this machine).
 */
export function findPostgresBinaries(): string | undefined {
  const chosen = process.env.PG_BINDIR;
  if (chosen !== undefined && chosen !== '') {
    return hasServerBinaries(chosen) ? chosen : undefined;
  }
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const majors = readdirSync(debianRoot)
      .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
      .sort((left, right) => Number.parseFloat(right) - Number.parseFloat(left));
    for (const major of majors) {
      const directory = join(debianRoot, major, 'bin');
      if (hasServerBinaries(directory)) return directory;
    }
  }
  try {
    const directory = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (directory !== '' && hasServerBinaries(directory)) return directory;
  } catch {
    // No pg_config on PATH.
  }
  return undefined;
}
