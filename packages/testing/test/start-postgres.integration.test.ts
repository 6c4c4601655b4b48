import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  missingCapability,
  type PostgresServer,
  PostgresServerError,
  startPostgres,
} from '../src/index.js';
import { findPostgresBinaries } from '../src/postgres/find-postgres-binaries.js';

// Most of this file tests servers started from the local binaries (kill, restart, data
// directory). Without them those tests are skipped, with this reason printed, as the root
// README promises; `PG_BINDIR=/nonexistent` shows it on a machine that has them.
const withoutBinaries =
  findPostgresBinaries() === undefined
    ? 'no PostgreSQL server binaries (PG_BINDIR, /usr/lib/postgresql/*/bin or pg_config --bindir)'
    : undefined;
if (withoutBinaries !== undefined) {
  console.warn(
    `[@enhanced-pool/testing] skipped the startPostgres() tests that start a local server: ${withoutBinaries}`,
  );
}

function dataDirectoryOf(server: PostgresServer): Promise<string> {
  return server
    .query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
    .then((rows) => rows[0]!.setting);
}

/** The postmaster's process id, from the first line of `postmaster.pid`. */
function postmasterPid(dataDirectory: string): number {
  return Number(readFileSync(join(dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** Whether a process still runs (a zombie waiting to be reaped by init counts as gone). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function connect(
  connectionString: string,
  applicationName = 'start-postgres-test',
): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, application_name: applicationName });
  await client.connect();
  return client;
}

/** The first error event; later ones ("Connection terminated unexpectedly") are expected too. */
function nextError(client: pg.Client): Promise<Error & { code?: string }> {
  return new Promise((resolve) => client.on('error', resolve));
}

describe.skipIf(withoutBinaries !== undefined)('startPostgres() with local binaries', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({ prefer: 'local' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('starts a local server on a loopback port that answers queries', async () => {
    expect(server.kind).toBe('local');
    expect(server.host).toBe('127.0.0.1');
    expect(server.connectionString).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
    const rows = await server.query<{ answer: number; version: string }>(
      'SELECT $1::int + 1 AS answer, current_setting($2) AS version',
      [41, 'server_version_num'],
    );
    expect(rows).toEqual([{ answer: 42, version: expect.stringMatching(/^\d{6}$/) }]);
    const settings = await server.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'listen_addresses', 'max_connections') ORDER BY name",
    );
    expect(settings).toEqual([
      { name: 'fsync', setting: 'off' },
      { name: 'listen_addresses', setting: '127.0.0.1' },
      { name: 'max_connections', setting: '100' },
    ]);
  });

  it('counts client connections, excluding its own admin connection', async () => {
    expect(await server.countConnections()).toBe(0);
    const clients = await Promise.all([
      connect(server.connectionString, 'count-a'),
      connect(server.connectionString, 'count-a'),
      connect(server.connectionString, 'count-b'),
    ]);
    try {
      expect(await server.countConnections()).toBe(3);
      expect(await server.countConnections({ applicationName: 'count-a' })).toBe(2);
      expect(await server.countConnections({ applicationName: 'nobody' })).toBe(0);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it('terminateBackends() ends an idle client, which sees a pg error event', async () => {
    const victim = await connect(server.connectionString, 'victim');
    const bystander = await connect(server.connectionString, 'bystander');
    try {
      const error = nextError(victim);
      expect(await server.terminateBackends({ applicationName: 'victim', state: 'idle' })).toBe(1);
      // Resolved only once the backend is gone, so the count is already right.
      expect(await server.countConnections({ applicationName: 'victim' })).toBe(0);
      expect((await error).code).toBe('57P01');
      await expect(bystander.query('SELECT 1')).resolves.toBeDefined();
    } finally {
      await victim.end().catch(() => {});
      await bystander.end();
    }
  });

  it('terminateBackends() by pid ends exactly that backend', async () => {
    const clients = await Promise.all([
      connect(server.connectionString, 'by-pid'),
      connect(server.connectionString, 'by-pid'),
    ]);
    for (const client of clients) client.on('error', () => {});
    try {
      const pidRows = await clients[0]!.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const pid = pidRows.rows[0]!.pid;
      expect(await server.terminateBackends({ pids: [pid] })).toBe(1);
      expect(await server.countConnections({ applicationName: 'by-pid' })).toBe(1);
      await expect(clients[1]!.query('SELECT 1')).resolves.toBeDefined();
      expect(await server.terminateBackends({ pids: [pid] })).toBe(0);
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => {})));
    }
  });

  it('the password role must authenticate with its password over TCP', async () => {
    const role = server.passwordRole!;
    expect(server.capabilities.passwordAuth).toBe(true);
    const client = await connect(role.connectionString);
    const rows = await client.query<{ user: string }>('SELECT current_user AS user');
    expect(rows.rows[0]!.user).toBe(role.user);
    await client.end();
    const wrong = new pg.Client({
      host: server.host,
      port: server.port,
      database: server.database,
      user: role.user,
      password: `${role.password}-wrong`,
    });
    await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' });
    await wrong.end().catch(() => {});
  });

  it('never shows the password in util.inspect or JSON of the server', () => {
    const password = server.passwordRole!.password;
    expect(inspect(server, { depth: 5 })).not.toContain(password);
    expect(JSON.stringify(server)).not.toContain(password);
    expect(inspect(server)).toContain(server.connectionString);
  });

  it('kill() stops the server immediately and start() brings it back on the same port', async () => {
    const client = await connect(server.connectionString, 'killed');
    const error = nextError(client);
    const port = server.port;
    await server.kill();
    expect((await error).message).toMatch(/terminat|ECONNRESET|unexpectedly/i);
    await expect(connect(server.connectionString)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await server.kill(); // already down: a no-op
    await server.start();
    expect(server.port).toBe(port);
    expect(await server.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await client.end().catch(() => {});
  });

  it('restart({ mode: "fast" }) ends clients with 57P01 and comes back', async () => {
    const client = await connect(server.connectionString, 'restarted');
    const error = nextError(client);
    await server.restart({ mode: 'fast', downtimeMs: 50 });
    expect((await error).code).toBe('57P01');
    expect(await server.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
    await client.end().catch(() => {});
  });

  it('restart() keeps the data written before it', async () => {
    await server.query('CREATE TABLE IF NOT EXISTS survives (id int)');
    await server.query('INSERT INTO survives VALUES (7)');
    await server.restart();
    expect(await server.query('SELECT id FROM survives')).toEqual([{ id: 7 }]);
  });

  it('reports every capability of a local server', () => {
    expect(server.capabilities).toEqual({
      restart: true,
      terminateBackends: true,
      concurrentBackends: true,
      passwordAuth: true,
    });
    expect(missingCapability(server, 'restart')).toBeUndefined();
  });
});

describe.skipIf(withoutBinaries !== undefined)('startPostgres() lifecycle', () => {
  it('stop() removes the data directory, is idempotent, and leaves no server running', async () => {
    const server = await startPostgres({ prefer: 'local' });
    const dataDirectory = await dataDirectoryOf(server);
    expect(existsSync(dataDirectory)).toBe(true);
    const pid = postmasterPid(dataDirectory);
    expect(isRunning(pid)).toBe(existsSync('/proc'));
    await server.stop();
    expect(isRunning(pid)).toBe(false);
    await server.stop();
    expect(existsSync(dataDirectory)).toBe(false);
    await expect(connect(server.connectionString)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await expect(server.start()).rejects.toMatchObject({ code: 'POSTGRES_UNSUPPORTED' });
  });

  it('stop() after kill() still removes the data directory', async () => {
    const server = await startPostgres({ prefer: 'local' });
    const dataDirectory = await dataDirectoryOf(server);
    await server.kill();
    await server.stop();
    expect(existsSync(dataDirectory)).toBe(false);
  });

  it('await using stops the server at the end of the scope', async () => {
    let dataDirectory = '';
    {
      await using server = await startPostgres({ prefer: 'local' });
      dataDirectory = await dataDirectoryOf(server);
    }
    expect(dataDirectory).not.toBe('');
    expect(existsSync(dataDirectory)).toBe(false);
  });

  it('maxConnections is the exact number of clients, superusers included', async () => {
    await using server = await startPostgres({ prefer: 'local', maxConnections: 2 });
    const clients = [
      await connect(server.connectionString),
      await connect(server.connectionString),
    ];
    try {
      await expect(connect(server.connectionString)).rejects.toMatchObject({ code: '53300' });
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it('applies extra settings', async () => {
    await using server = await startPostgres({
      prefer: 'local',
      settings: { statement_timeout: '1234ms', work_mem: '4MB' },
    });
    expect(await server.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '1234ms' }]);
  });
});

describe('startPostgres() on any machine', () => {
  it('rejects bad options with InvalidOptionError naming the option', async () => {
    await expect(startPostgres({ maxConnections: 0 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'maxConnections',
    });
    await expect(startPostgres({ prefer: 'remote' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'prefer',
    });
    await expect(startPostgres({ settings: { 'bad name; DROP': 1 } })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    await expect(
      startPostgres({ settings: { work_mem: 'x\ninclude /etc/passwd' } }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'settings.work_mem' });
  });

  it('PostgresServerError carries a stable code', () => {
    const error = new PostgresServerError('POSTGRES_UNSUPPORTED', 'no');
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('POSTGRES_UNSUPPORTED');
    expect(error.name).toBe('PostgresServerError');
  });

  describe('without server binaries', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
      vi.restoreAllMocks();
    });

    it('prefer: "local" rejects with POSTGRES_UNAVAILABLE', async () => {
      vi.stubEnv('PG_BINDIR', '/nonexistent/postgresql/bin');
      await expect(startPostgres({ prefer: 'local' })).rejects.toMatchObject({
        code: 'POSTGRES_UNAVAILABLE',
      });
    });

    it('prefer: "auto" without DATABASE_URL falls back to embedded pglite, saying so', async () => {
      vi.stubEnv('PG_BINDIR', '/nonexistent/postgresql/bin');
      vi.stubEnv('DATABASE_URL', '');
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      await using server = await startPostgres({ maxConnections: 2 });
      expect(server.kind).toBe('embedded');
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('using embedded pglite'));
    });
  });
});

describe('startPostgres({ prefer: "embedded" })', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({ prefer: 'embedded', maxConnections: 2 });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('serves pglite over TCP and answers SELECT 1', async () => {
    expect(server.kind).toBe('embedded');
    const client = await connect(server.connectionString);
    try {
      const result = await client.query<{ one: number }>('SELECT 1 AS one');
      expect(result.rows).toEqual([{ one: 1 }]);
      expect(await server.countConnections()).toBe(1);
    } finally {
      await client.end();
    }
    expect(await server.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
  });

  it('declares what it cannot do, with printable reasons, and refuses it with a typed error', async () => {
    expect(server.capabilities).toEqual({
      restart: false,
      terminateBackends: false,
      concurrentBackends: false,
      passwordAuth: false,
    });
    expect(server.passwordRole).toBeUndefined();
    expect(missingCapability(server, 'restart')).toMatch(/pglite/);
    await expect(server.kill()).rejects.toMatchObject({ code: 'POSTGRES_UNSUPPORTED' });
    await expect(server.terminateBackends()).rejects.toMatchObject({
      code: 'POSTGRES_UNSUPPORTED',
    });
  });
});
