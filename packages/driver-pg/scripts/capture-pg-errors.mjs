#!/usr/bin/env node
// Captures the errors `pg` really produces against a real PostgreSQL, so the classification table
// in src/classify-pg-error.test.ts is checked against real objects, not guesses.
//
//   node packages/driver-pg/scripts/capture-pg-errors.mjs [output.json]
//
// It starts a throwaway server (initdb in a temp dir, a free loopback port, run as the `postgres`
// OS user when invoked as root), provokes each failure with the installed `pg`, writes the
// relevant fields to src/__fixtures__/pg-errors.json and stops the server. Every server and
// socket it opens is loopback only. Set PG_BINDIR when the binaries are not in
// /usr/lib/postgresql/15/bin.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const pg = require('pg');
const pgVersion = require('pg/package.json').version;

const here = dirname(fileURLToPath(import.meta.url));
const output = process.argv[2] ?? join(here, '..', 'src', '__fixtures__', 'pg-errors.json');
const bindir = process.env.PG_BINDIR ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

const SCRAM_USER = 'scram_user';
const SCRAM_PASSWORD = 'fixture-scram-password';
const WRONG_PASSWORD = 'fixture-wrong-password';

function run(command, args, options = {}) {
  const [file, argv] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', join(bindir, command), ...args]]
    : [join(bindir, command), args];
  return execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options }).toString();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The fields worth keeping: enough to rebuild the error and to classify it. */
function fields(error) {
  if (!(error instanceof Error)) return { className: typeof error, message: String(error) };
  const kept = { className: error.constructor?.name ?? 'Error', name: error.name };
  for (const key of ['message', 'code', 'severity', 'routine', 'errno', 'syscall', 'address']) {
    if (error[key] !== undefined) kept[key] = error[key];
  }
  if (error.port !== undefined) kept.port = '<port>';
  if (Array.isArray(error.errors)) kept.errors = error.errors.map(fields);
  // Ports and temp paths change on every run; keep fixtures stable so a re-capture diffs cleanly.
  for (const key of ['message', 'address']) {
    if (typeof kept[key] === 'string') {
      kept[key] = kept[key]
        .split(dir)
        .join('<tmp>')
        .replace(/:\d{4,5}\b/g, ':<port>')
        .replace(/PGSQL\.\d+/g, 'PGSQL.<port>');
    }
  }
  return kept;
}

/** Resolves with the first error a promise rejects with, or an 'error' event of an emitter. */
async function captureRejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * Connects a new client expecting failure. The socket is destroyed afterwards: pg leaves it open
 * after some failures (a SASL error keeps the server's backend waiting in authentication).
 */
async function failedConnect(config) {
  const client = new pg.Client(config);
  collectErrors(client);
  const error = await captureRejection(client.connect());
  client.connection.stream.destroy();
  return error;
}

function nextErrorEvent(emitter) {
  return new Promise((resolve) => emitter.once('error', resolve));
}

/** Collects every 'error' event an emitter fires, so none goes unhandled. */
function collectErrors(emitter) {
  const seen = [];
  emitter.on('error', (error) => seen.push(error));
  return seen;
}

const captured = {};
function record(id, description, error) {
  captured[id] = { description, error: fields(error) };
  process.stdout.write(`${id}: ${error?.code ?? ''} ${error?.message}\n`);
}

const dir = mkdtempSync(join(tmpdir(), 'capture-pg-errors-'));
let port;
let started = false;

function pgCtl(...args) {
  return run('pg_ctl', ['-D', join(dir, 'data'), ...args]);
}

function startServer() {
  pgCtl(
    '-o',
    `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} ` +
      '-c fsync=off -c max_connections=6 -c superuser_reserved_connections=0',
    '-l',
    join(dir, 'server.log'),
    '-w',
    'start',
  );
  started = true;
}

async function main() {
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), 0);
  port = await freePort();
  run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  // Password auth for one role, so wrong and missing passwords are real SCRAM failures.
  const hba = join(dir, 'data', 'pg_hba.conf');
  const rules = `host all ${SCRAM_USER} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n`;
  writeFileSync(hba, rules + readFileSync(hba, 'utf8'));
  startServer();

  const base = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' };
  const admin = new pg.Client(base);
  await admin.connect();
  await admin.query(`CREATE ROLE ${SCRAM_USER} LOGIN PASSWORD '${SCRAM_PASSWORD}'`);
  await admin.query('CREATE TABLE unique_things (id int PRIMARY KEY)');
  await admin.query('INSERT INTO unique_things VALUES (1)');

  // --- Connecting ---------------------------------------------------------------------------
  const closedPort = await freePort();
  record(
    'econnrefused',
    'connect to a loopback port nothing listens on',
    await failedConnect({ ...base, port: closedPort }),
  );
  record(
    'econnrefused-localhost',
    'connect to "localhost" on a closed port (Node may try ::1 and 127.0.0.1)',
    await failedConnect({ ...base, host: 'localhost', port: closedPort }),
  );
  record(
    'enoent-socket',
    'connect to a Unix socket directory without a server',
    await failedConnect({ ...base, host: join(dir, 'nowhere') }),
  );
  record(
    'enotfound',
    'connect to a host name that does not resolve (.invalid is reserved, RFC 2606)',
    await failedConnect({ ...base, host: 'no-such-host.invalid' }),
  );
  record(
    'wrong-password',
    'SCRAM role, wrong password',
    await failedConnect({ ...base, user: SCRAM_USER, password: WRONG_PASSWORD }),
  );
  record(
    'missing-password',
    'SCRAM role, no password given',
    await failedConnect({ ...base, user: SCRAM_USER, password: undefined }),
  );
  record(
    'unknown-role',
    'a role that does not exist',
    await failedConnect({ ...base, user: 'no_such_role' }),
  );
  record(
    'missing-database',
    'a database that does not exist',
    await failedConnect({ ...base, database: 'no_such_database' }),
  );
  record(
    'ssl-unsupported',
    'ssl: true against a server without SSL',
    await failedConnect({ ...base, ssl: true }),
  );
  {
    const client = new pg.Client(base);
    await client.connect();
    record(
      'client-reused',
      'connect() called twice on one Client',
      await captureRejection(client.connect()),
    );
    await client.end();
  }
  {
    // max_connections=6 with no reserved slots: open connections until the server refuses one.
    const holders = [];
    let refused;
    while (refused === undefined && holders.length < 10) {
      const holder = new pg.Client(base);
      collectErrors(holder);
      try {
        await holder.connect();
        holders.push(holder);
      } catch (error) {
        refused = error;
        holder.connection.stream.destroy();
      }
    }
    record('too-many-connections', 'connect when max_connections is reached', refused);
    await Promise.all(holders.map((holder) => holder.end()));
  }

  // A loopback server that accepts and never answers: connect timeouts.
  const silent = net.createServer(() => {});
  const silentSockets = new Set();
  silent.on('connection', (socket) => silentSockets.add(socket));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = silent.address().port;
  record(
    'connect-timeout',
    'pg connectionTimeoutMillis against a server that never answers',
    await failedConnect({ ...base, port: silentPort, connectionTimeoutMillis: 50 }),
  );
  {
    const pool = new pg.Pool({ ...base, port: silentPort, connectionTimeoutMillis: 50 });
    record(
      'pool-connect-timeout',
      'pg-pool connectionTimeoutMillis against a server that never answers',
      await captureRejection(pool.connect()),
    );
    await pool.end();
  }
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));

  // A loopback server that resets every connection: ECONNRESET while connecting.
  const resetter = net.createServer((socket) => socket.resetAndDestroy());
  await new Promise((resolve) => resetter.listen(0, '127.0.0.1', resolve));
  record(
    'econnreset-connect',
    'the server resets the TCP connection during startup',
    await failedConnect({ ...base, port: resetter.address().port }),
  );
  await new Promise((resolve) => resetter.close(resolve));

  // A loopback proxy in front of the server, so an established connection can be reset.
  const proxied = new Set();
  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(port, '127.0.0.1');
    upstream.on('error', () => downstream.destroy());
    downstream.on('close', () => upstream.destroy());
    downstream.pipe(upstream).pipe(downstream);
    proxied.add(downstream);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  {
    const client = new pg.Client({ ...base, port: proxy.address().port });
    const errors = collectErrors(client);
    await client.connect();
    const event = nextErrorEvent(client);
    for (const socket of proxied) socket.resetAndDestroy();
    record('econnreset-idle', 'an idle connection reset by the network', await event);
    record(
      'query-after-connection-error',
      'query() on a client that has seen a connection error',
      await captureRejection(client.query('SELECT 1')),
    );
    if (errors.length > 1) record('econnreset-idle-second', 'a second error event', errors[1]);
    await client.end();
  }
  await new Promise((resolve) => proxy.close(resolve));

  // --- Server-side termination -------------------------------------------------------------
  {
    const client = new pg.Client({ ...base, application_name: 'capture-active' });
    const errors = collectErrors(client);
    await client.connect();
    const query = captureRejection(client.query('SELECT pg_sleep(30)'));
    await waitForActive(admin, 'capture-active');
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'capture-active'",
    );
    record('terminated-active', 'pg_terminate_backend on a running query', await query);
    await new Promise((resolve) => client.once('end', resolve));
    if (errors[0]) record('terminated-active-event', 'the error event after it', errors[0]);
  }
  {
    const client = new pg.Client({ ...base, application_name: 'capture-idle' });
    const errors = collectErrors(client);
    await client.connect();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'capture-idle'",
    );
    await new Promise((resolve) => client.once('end', resolve));
    record(
      'terminated-idle',
      'pg_terminate_backend on an idle connection (error event)',
      errors[0],
    );
    if (errors[1]) record('terminated-idle-second', 'the second error event', errors[1]);
    record(
      'query-after-end',
      'query() on a client whose connection ended',
      await captureRejection(client.query('SELECT 1')),
    );
  }
  {
    const client = new pg.Client(base);
    await client.connect();
    await client.end();
    record(
      'query-after-close',
      'query() on a client closed with end()',
      await captureRejection(client.query('SELECT 1')),
    );
  }

  // --- Query errors ------------------------------------------------------------------------
  {
    const client = new pg.Client({ ...base, application_name: 'capture-queries' });
    await client.connect();
    await client.query('SET statement_timeout = 50');
    record(
      'statement-timeout',
      'statement_timeout expires',
      await captureRejection(client.query('SELECT pg_sleep(5)')),
    );
    await client.query('SET statement_timeout = 0');
    const cancelled = captureRejection(client.query('SELECT pg_sleep(30)'));
    await waitForActive(admin, 'capture-queries');
    await admin.query(
      "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'capture-queries'",
    );
    record('query-cancelled', 'pg_cancel_backend on a running query', await cancelled);
    record(
      'unique-violation',
      'INSERT of a duplicate primary key',
      await captureRejection(client.query('INSERT INTO unique_things VALUES (1)')),
    );
    record(
      'syntax-error',
      'a statement that does not parse',
      await captureRejection(client.query('SELEC 1')),
    );
    record(
      'undefined-table',
      'a table that does not exist',
      await captureRejection(client.query('SELECT * FROM no_such_table')),
    );
    record(
      'division-by-zero',
      'a runtime data error',
      await captureRejection(client.query('SELECT 1 / 0')),
    );
    await client.query('BEGIN');
    await captureRejection(client.query('SELECT 1 / 0'));
    record(
      'in-failed-transaction',
      'a statement after an error inside a transaction',
      await captureRejection(client.query('SELECT 1')),
    );
    await client.query('ROLLBACK');
    await client.end();
  }
  {
    const client = new pg.Client({ ...base, query_timeout: 50 });
    await client.connect();
    record(
      'query-read-timeout',
      'pg query_timeout expires on the client side',
      await captureRejection(client.query('SELECT pg_sleep(1)')),
    );
    await client.end();
  }

  // --- Shutdowns ---------------------------------------------------------------------------
  {
    // A smart shutdown waits for open sessions; meanwhile new connections are refused (57P03).
    const holder = new pg.Client(base);
    collectErrors(holder);
    await holder.connect();
    await admin.end();
    pgCtl('-m', 'smart', '-W', 'stop');
    let refused;
    for (let attempt = 0; attempt < 100 && refused === undefined; attempt += 1) {
      const client = new pg.Client(base);
      collectErrors(client);
      try {
        await client.connect();
        await client.end();
        await new Promise((resolve) => setTimeout(resolve, 20));
      } catch (error) {
        refused = error;
        client.connection.stream.destroy();
      }
    }
    record('shutting-down', 'connect while a smart shutdown waits for sessions', refused);
    await holder.end();
    await waitForStop();
  }
  {
    startServer();
    const active = new pg.Client({ ...base, application_name: 'capture-kill' });
    const activeErrors = collectErrors(active);
    const idle = new pg.Client(base);
    const idleErrors = collectErrors(idle);
    await active.connect();
    await idle.connect();
    const query = captureRejection(active.query('SELECT pg_sleep(30)'));
    const watcher = new pg.Client(base);
    await watcher.connect();
    await waitForActive(watcher, 'capture-kill');
    await watcher.end();
    const idleEnded = new Promise((resolve) => idle.once('end', resolve));
    pgCtl('-m', 'immediate', '-w', 'stop');
    started = false;
    record(
      'immediate-shutdown-active',
      'a running query when the server stops immediately',
      await query,
    );
    await idleEnded;
    if (activeErrors[0])
      record('immediate-shutdown-active-event', 'its error event', activeErrors[0]);
    record(
      'immediate-shutdown-idle',
      'an idle connection when the server stops immediately',
      idleErrors[0],
    );
    if (idleErrors[1])
      record('immediate-shutdown-idle-second', 'the second error event', idleErrors[1]);
  }

  // --- Bad configuration, thrown by the constructor ----------------------------------------
  for (const [id, config] of [
    ['invalid-sslnegotiation', { ...base, sslnegotiation: 'sometimes' }],
    [
      'invalid-connection-string',
      { connectionString: 'postgres://user:fixture-secret@127.0.0.1:notaport/db' },
    ],
  ]) {
    try {
      new pg.Client(config);
      process.stdout.write(`${id}: accepted by the constructor, not recorded\n`);
    } catch (error) {
      record(id, `new Client() with ${id}`, error);
    }
  }
}

async function waitForActive(client, applicationName) {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const result = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
      [applicationName],
    );
    if (result.rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no active query from ${applicationName}`);
}

async function waitForStop() {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    try {
      pgCtl('status');
    } catch {
      started = false;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the server did not stop');
}

try {
  await main();
  const document = {
    $comment:
      `Errors produced by pg ${pgVersion} against PostgreSQL ${run('postgres', ['--version']).trim()} ` +
      `on Node ${process.version}, captured by scripts/capture-pg-errors.mjs (re-run it to refresh). ` +
      'Ports are replaced by <port>; passwords are throwaway fixture values.',
    errors: captured,
  };
  writeFileSync(output, `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`wrote ${Object.keys(captured).length} errors to ${output}\n`);
} finally {
  if (started) {
    try {
      pgCtl('-m', 'immediate', '-w', 'stop');
    } catch {
      // already stopped
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
