import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBinaries } from '../postgres/find-postgres-binaries.js';
import type { PostgresPreference, PostgresServer } from '../postgres/postgres-server.js';
import { startPostgres } from '../postgres/start-postgres.js';
import { createFaultProxy, type FaultProxy } from './fault-proxy.js';

// The same faults against both kinds of server a machine may have: PostgreSQL started from the
// local binaries, and the embedded pglite every machine has.
const kinds: { prefer: PostgresPreference; skip: string | undefined }[] = [
  {
    prefer: 'local',
    skip:
      findPostgresBinaries() === undefined
        ? 'no PostgreSQL server binaries (PG_BINDIR, /usr/lib/postgresql/*/bin or pg_config --bindir)'
        : undefined,
  },
  { prefer: 'embedded', skip: undefined },
];

for (const { prefer, skip } of kinds) {
  if (skip !== undefined) {
    console.warn(`[@enhanced-pool/testing] skipped the fault proxy on a ${prefer} server: ${skip}`);
  }

  describe.skipIf(skip !== undefined)(`createFaultProxy in front of a ${prefer} PostgreSQL`, () => {
    let server: PostgresServer;
    let proxy: FaultProxy;
    let connectionString: string;
    const clients = new Set<pg.Client>();

    const open = async (options: { connectionTimeoutMillis?: number } = {}) => {
      const client = new pg.Client({ connectionString, ...options });
      client.on('error', () => {});
      clients.add(client);
      await client.connect();
      return client;
    };

    beforeAll(async () => {
      server = await startPostgres({ prefer });
      proxy = await createFaultProxy({ target: server.connectionString });
      connectionString = proxy.connectionString(server.connectionString);
    });

    afterAll(async () => {
      for (const client of clients) await client.end().catch(() => {});
      await proxy?.close();
      await server?.stop();
    });

    it('carries queries to the server', async () => {
      const client = await open();
      const { rows } = await client.query<{ answer: number }>('SELECT 41 + 1 AS answer');
      expect(rows[0]?.answer).toBe(42);
      expect(proxy.status()).toMatchObject({ mode: 'forwarding', open: 1 });
      await client.end();
    });

    it('cut(): a query on a cut connection fails as a lost connection; a new one works', async () => {
      const client = await open();
      await client.query('SELECT 1');
      expect(proxy.cut()).toBe(1);
      await expect(client.query('SELECT 1')).rejects.toThrow(
        /ECONNRESET|Connection terminated|not queryable/,
      );
      const fresh = await open();
      expect((await fresh.query('SELECT 2 AS two')).rows[0]).toEqual({ two: 2 });
      await fresh.end();
    });

    it('outage(): connects fail while it lasts and work once it is over', async () => {
      const client = await open();
      const outage = proxy.outage({ durationMs: 60_000 });
      await expect(client.query('SELECT 1')).rejects.toThrow();
      await expect(open()).rejects.toThrow(/ECONNRESET|Connection terminated/);
      expect(proxy.status()).toMatchObject({ mode: 'outage', open: 0 });
      proxy.heal();
      await outage;
      const after = await open();
      expect((await after.query('SELECT 3 AS three')).rows[0]).toEqual({ three: 3 });
      await after.end();
    });

    it('blackhole(): a connect hangs until the client gives up; after heal() it connects', async () => {
      proxy.blackhole();
      await expect(open({ connectionTimeoutMillis: 300 })).rejects.toThrow(/timeout/i);
      proxy.heal();
      const client = await open();
      expect((await client.query('SELECT 4 AS four')).rows[0]).toEqual({ four: 4 });
      await client.end();
    });

    it('setLatency(): every round trip takes at least that much longer', async () => {
      const client = await open();
      proxy.setLatency(150);
      const started = performance.now();
      await client.query('SELECT 1');
      expect(performance.now() - started).toBeGreaterThanOrEqual(145);
      proxy.setLatency(0);
      await client.end();
    });

    it('the server sees the connections the proxy carries and their close', async () => {
      // Earlier tests' cut connections may still be closing on the server.
      await serverConnections(0);
      const client = await open();
      expect(await server.countConnections()).toBe(1);
      await client.end();
      await serverConnections(0);
      expect(proxy.status().open).toBe(0);
    });

    /** Polls the server (it announces no close) until it counts `expected` client backends. */
    async function serverConnections(expected: number): Promise<void> {
      for (let attempt = 0; (await server.countConnections()) !== expected; attempt += 1) {
        if (attempt > 200) throw new Error(`the server does not count ${expected} connections`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  });
}
