import type { Driver, ErrorReason } from '@enhanced-pool/core';
import pg from 'pg';
import type { DriverConformanceTarget } from '../../src/conformance/index.js';

/**
 * A minimal Driver built directly on `pg`, so the conformance suite is proven against a real
 * adapter before `@enhanced-pool/driver-pg` exists. Options let a test break one rule at a time.
 */
export interface TinyPgDriverOptions {
  /** Ignore the abort signal in connect() and validate(). */
  readonly ignoreSignal?: boolean;
  /** Put the whole target, password included, into describe(). */
  readonly leakPasswordInDescribe?: boolean;
  /** Classify every error as `unknown`. */
  readonly classifyEverythingUnknown?: boolean;
  /** Reject a second close() instead of ignoring it. */
  readonly closeTwiceRejects?: boolean;
  /** Make reset() resolve without rolling anything back. */
  readonly resetDoesNothing?: boolean;
  /** Leave the optional address, port and database out of describe(). */
  readonly describeSystemOnly?: boolean;
  /** Leave out the optional isBroken(). */
  readonly withoutIsBroken?: boolean;
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

export function classifyTinyPgError(error: unknown): ErrorReason {
  if (typeof error !== 'object' || error === null) return 'unknown';
  const code = (error as { code?: unknown }).code;
  const message = (error as { message?: unknown }).message;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) {
      return 'connection';
    }
    if (code === '57014') return 'timeout';
    if (code.startsWith('28')) return 'authentication';
    if (code === '3D000') return 'configuration';
    if (code === '53300') return 'resource-exhausted';
    if (/^[0-9A-Z]{5}$/.test(code)) return 'query';
  }
  if (
    typeof message === 'string' &&
    /Connection terminated|connection is closed|not queryable/i.test(message)
  ) {
    return 'connection';
  }
  return 'unknown';
}

function destroySocket(client: pg.Client): void {
  (
    client as unknown as { connection: { stream: { destroy(): void } } }
  ).connection.stream.destroy();
}

export function createTinyPgDriver(
  target: DriverConformanceTarget,
  options: TinyPgDriverOptions = {},
): Driver<pg.Client> {
  const broken = new WeakSet<pg.Client>();
  const closed = new WeakSet<pg.Client>();

  /** Settles with `operation`, or rejects with the signal's reason (destroying the socket). */
  const honour = <T>(client: pg.Client, signal: AbortSignal, operation: Promise<T>): Promise<T> => {
    if (options.ignoreSignal) return operation;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        broken.add(client);
        destroySocket(client);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      operation.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  };

  const describeTarget = options.leakPasswordInDescribe
    ? { ...target }
    : { host: target.host, port: target.port, database: target.database };

  return {
    specificationVersion: 'v1',
    name: 'tiny-pg',
    async connect({ signal }) {
      if (!options.ignoreSignal) signal.throwIfAborted();
      const client = new pg.Client({
        connectionString: target.connectionString,
        application_name: 'tiny-pg',
      });
      client.on('error', () => broken.add(client));
      client.on('end', () => broken.add(client));
      try {
        await honour(client, signal, client.connect());
      } catch (error) {
        destroySocket(client);
        throw error;
      }
      return client;
    },
    async validate(client, { signal }) {
      if (!options.ignoreSignal) signal.throwIfAborted();
      try {
        await honour(client, signal, client.query('SELECT 1'));
      } catch (error) {
        if (classifyTinyPgError(error) === 'connection') broken.add(client);
        throw error;
      }
    },
    async reset(client, { signal }) {
      if (options.resetDoesNothing) return;
      await honour(client, signal, client.query('ROLLBACK'));
    },
    ...(options.withoutIsBroken ? {} : { isBroken: (client: pg.Client) => broken.has(client) }),
    async close(client) {
      if (closed.has(client)) {
        if (options.closeTwiceRejects) throw new Error('connection already closed');
        return;
      }
      closed.add(client);
      broken.add(client);
      await client.end();
    },
    classifyError: (error) =>
      options.classifyEverythingUnknown ? 'unknown' : classifyTinyPgError(error),
    describe: () => ({
      'db.system.name': 'postgresql',
      ...(options.describeSystemOnly
        ? {}
        : {
            'server.address': describeTarget.host,
            'server.port': describeTarget.port,
            'db.namespace': describeTarget.database,
          }),
      ...(options.leakPasswordInDescribe ? { target: describeTarget } : {}),
    }),
  };
}
