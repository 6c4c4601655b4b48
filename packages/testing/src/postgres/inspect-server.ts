import { inspect } from 'node:util';
import { redactSecrets } from '@enhanced-pool/core';
import type { PostgresServer } from './postgres-server.js';

/**
 * Gives a server a `util.inspect` / `console.log` form without the password role's password
 * (or a password inside `DATABASE_URL`),
 * so a test that logs its server never prints a secret.
 */
export function inspectServer<TServer extends PostgresServer>(server: TServer): TServer {
  Object.defineProperty(server, inspect.custom, {
    enumerable: false,
    value: () =>
      `PostgresServer { kind: '${server.kind}', connectionString: '${redactSecrets(server.connectionString)}', ` +
      `passwordRole: ${server.passwordRole === undefined ? 'undefined' : `{ user: '${server.passwordRole.user}', password: '[redacted]' }`} }`,
  });
  Object.defineProperty(server, 'toJSON', {
    enumerable: false,
    value: () => ({
      kind: server.kind,
      connectionString: redactSecrets(server.connectionString),
      host: server.host,
      port: server.port,
      database: server.database,
      user: server.user,
      passwordRole:
        server.passwordRole === undefined
          ? undefined
          : { user: server.passwordRole.user, password: '[redacted]' },
      capabilities: server.capabilities,
    }),
  });
  return server;
}
