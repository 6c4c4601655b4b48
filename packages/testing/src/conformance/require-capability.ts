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

/** Prints why a test is skipped (so CI logs show it) and skips it. */
export function skipWithReason(context: SkippableContext, reason: string): never {
  console.warn(`[@enhanced-pool/testing] skipped "${context.task.name}": ${reason}`);
  return context.skip(reason);
}
