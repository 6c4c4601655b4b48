import { findPostgresBinaries } from '../postgres/find-postgres-binaries.js';
import {
  missingCapability,
  type PostgresCapability,
  type PostgresServer,
} from '../postgres/postgres-server.js';

/** The part of vitest's test context {@link requireCapability} uses. */
export interface SkippableContext {
  readonly task: { readonly name: string };
  skip(note?: string): never;
}

/**
 * Skips the running vitest test, with a printed reason, when `server` lacks `capability`:
 * never silently. Call it first thing in the test body:
 *
 * ```ts
 * it('survives a restart', async (context) => {
 *   requireCapability(context, server, 'restart');
 *   await server.restart();
 * });
 * ```
 */
export function requireCapability(
  context: SkippableContext,
  server: Pick<PostgresServer, 'kind' | 'capabilities'>,
  capability: PostgresCapability,
): void {
  const reason = missingCapability(server, capability);
  if (reason !== undefined) skipWithReason(context, reason);
}

/**
 * Skips the running vitest test, with a printed reason, unless PostgreSQL server binaries are
 * found: for a test that starts its own `startPostgres({ prefer: 'local' })`. Such a test needs
 * the binaries, not the absence of `DATABASE_URL`, so gate it on this rather than on the kind of
 * a shared server.
 */
export function requireLocalPostgres(context: SkippableContext): void {
  if (findPostgresBinaries() === undefined) {
    skipWithReason(
      context,
      'needs PostgreSQL server binaries to start a local server (PG_BINDIR, /usr/lib/postgresql/*/bin or pg_config --bindir)',
    );
  }
}

/** Prints why a test is skipped (so CI logs show it) and skips it. */
export function skipWithReason(context: SkippableContext, reason: string): never {
  console.warn(`[@enhanced-pool/testing] skipped "${context.task.name}": ${reason}`);
  return context.skip(reason);
}
