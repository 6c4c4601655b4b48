import { type PostgresServer, PostgresServerError, startPostgres } from '@enhanced-pool/testing';
import { startEmbeddedDatabase } from './embedded-database.js';

/**
 * Which database the service runs on:
 * - `auto`: `DATABASE_URL` when set, else a throwaway local server when PostgreSQL's server
 *   binaries are installed, else embedded pglite;
 * - `local`: a throwaway local server (fails without the binaries);
 * - `embedded`: pglite in this process, served over a loopback socket.
 */
export type DatabaseChoice = 'auto' | 'local' | 'embedded';

/** Every {@link DatabaseChoice}, for validating `EXAMPLE_DATABASE`. */
export const DATABASE_CHOICES: readonly DatabaseChoice[] = Object.freeze([
  'auto',
  'local',
  'embedded',
]);

/** The database and a sentence saying what it is, for the console and the event log. */
export interface StartedDatabase {
  readonly server: PostgresServer;
  readonly description: string;
}

/** Starts (or, for `DATABASE_URL`, connects to) the database the service runs on. */
export async function startDatabase(choice: DatabaseChoice): Promise<StartedDatabase> {
  if (choice === 'embedded') return embedded();
  const databaseUrl = process.env.DATABASE_URL;
  if (choice === 'auto' && databaseUrl !== undefined && databaseUrl !== '') {
    return {
      server: await startPostgres(),
      description: 'the server of DATABASE_URL (left running on exit)',
    };
  }
  try {
    return {
      server: await startPostgres({ prefer: 'local' }),
      description: 'a throwaway local PostgreSQL (removed on exit)',
    };
  } catch (error) {
    const noBinaries =
      error instanceof PostgresServerError && error.code === 'POSTGRES_UNAVAILABLE';
    if (choice === 'local' || !noBinaries) throw error;
    return embedded();
  }
}

async function embedded(): Promise<StartedDatabase> {
  return {
    server: await startEmbeddedDatabase(),
    description: 'embedded pglite, in memory (PostgreSQL compiled to WebAssembly)',
  };
}
