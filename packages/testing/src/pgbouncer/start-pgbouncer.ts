import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';
import { InvalidOptionError, numberOption, redactSecrets } from '@enhanced-pool/core';
import { registerForExitCleanup } from '../postgres/exit-cleanup.js';
import { freePort, LOOPBACK } from '../postgres/free-port.js';
import {
  PgBouncerError,
  type PgBouncerPoolMode,
  type PgBouncerServer,
  type StartPgBouncerOptions,
} from './pgbouncer-server.js';

/** Debian's (and CI's) PgBouncer; `PGBOUNCER` names another binary. */
const DEFAULT_BINARY = '/usr/sbin/pgbouncer';
const SERVER_OS_USER = 'postgres';
const PORT_ATTEMPTS = 5;
const START_DEADLINE_MS = 10_000;
const SETTING_NAME = /^[a-z_][a-z0-9_]*$/;

function binaryPath(): string {
  const configured = process.env.PGBOUNCER;
  return configured !== undefined && configured !== '' ? configured : DEFAULT_BINARY;
}

/**
 * Why {@link startPgBouncer} can't run here, as a sentence to print when skipping a test, or
 * `undefined` when it can: the binary is missing, or `server` is not a local throwaway server
 * (PgBouncer needs a real server it can reach over TCP, with the roles `startPostgres()` made).
 */
export function pgBouncerUnavailable(
  server?: Pick<StartPgBouncerOptions['server'], 'kind'>,
): string | undefined {
  const binary = binaryPath();
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    return `needs PgBouncer: ${binary} is missing (apt-get install pgbouncer, or set PGBOUNCER)`;
  }
  if (server !== undefined && server.kind !== 'local') {
    return `needs a local PostgreSQL behind PgBouncer, not a "${server.kind}" one (install PostgreSQL server binaries and unset DATABASE_URL)`;
  }
  return undefined;
}

/** PgBouncer refuses to run as root: as root it runs as the `postgres` OS user. */
function osUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, SERVER_OS_USER], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function quote(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

function resolveOptions(options: StartPgBouncerOptions): {
  poolMode: PgBouncerPoolMode;
  defaultPoolSize: number;
  maxClientConnections: number;
  settings: Readonly<Record<string, string | number>>;
} {
  if (typeof options !== 'object' || options === null || options.server === undefined) {
    throw new InvalidOptionError('server', options?.server, 'a server from startPostgres()');
  }
  const poolMode = options.poolMode ?? 'transaction';
  if (poolMode !== 'transaction' && poolMode !== 'session') {
    throw new InvalidOptionError('poolMode', poolMode, '"transaction" or "session"');
  }
  const defaultPoolSize = numberOption('defaultPoolSize', options.defaultPoolSize, 20, {
    min: 1,
    max: 10_000,
    integer: true,
  });
  const maxClientConnections = numberOption(
    'maxClientConnections',
    options.maxClientConnections,
    200,
    { min: 1, max: 100_000, integer: true },
  );
  const settings = options.settings ?? {};
  for (const [name, value] of Object.entries(settings)) {
    if (!SETTING_NAME.test(name)) {
      throw new InvalidOptionError(`settings.${name}`, name, 'a PgBouncer setting name');
    }
    if (!(typeof value === 'number' && Number.isFinite(value)) && typeof value !== 'string') {
      throw new InvalidOptionError(`settings.${name}`, value, 'a string or a finite number');
    }
    if (typeof value === 'string' && /[\r\n]/.test(value)) {
      throw new InvalidOptionError(`settings.${name}`, value, 'a single-line string');
    }
  }
  return { poolMode, defaultPoolSize, maxClientConnections, settings };
}

/** Resolves once something accepts TCP connections on the port, or rejects at the deadline. */
async function waitForListener(port: number, child: ChildProcess, deadline: number) {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: LOOPBACK, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return true;
    if (performance.now() >= deadline) return false;
    await delay(20);
  }
}

/**
 * Starts Debian's PgBouncer (`/usr/sbin/pgbouncer`, 1.18 here and in CI; `PGBOUNCER` names
 * another) in front of `server`, in a temp dir, on a free loopback port, and resolves once it
 * accepts connections. Check {@link pgBouncerUnavailable} first to skip with a reason.
 *
 * Authentication mirrors the server: the superuser is trusted, the password role
 * authenticates with SCRAM (PgBouncer holds its password in its `auth_file` and logs in to the
 * server with it). `server_login_retry` is 0.1 s, so after a server restart PgBouncer reconnects
 * as fast as a test needs. Stopped (and its directory removed) on `stop()`, and synchronously at
 * process exit even when a test failed.
 *
 * @example
 * ```ts
 * await using server = await startPostgres();
 * await using bouncer = await startPgBouncer({ server, poolMode: 'transaction' });
 * const client = new pg.Client({ connectionString: bouncer.connectionString });
 * ```
 */
export async function startPgBouncer(options: StartPgBouncerOptions): Promise<PgBouncerServer> {
  const resolved = resolveOptions(options);
  const { server } = options;
  const unavailable = pgBouncerUnavailable(server);
  if (unavailable !== undefined) throw new PgBouncerError('PGBOUNCER_UNAVAILABLE', unavailable);

  const user = osUser();
  const root = await mkdtemp(join(tmpdir(), 'enhanced-pool-pgbouncer-'));
  const logFile = join(root, 'pgbouncer.log');
  const configFile = join(root, 'pgbouncer.ini');
  let child: ChildProcess | undefined;
  let stopped = false;

  const killSync = (): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  };
  const unregister = registerForExitCleanup(killSync);

  const logTail = async (lines = 15): Promise<string> => {
    try {
      const log = await readFile(logFile, 'utf8');
      return redactSecrets(log.trim().split('\n').slice(-lines).join('\n'));
    } catch {
      return '';
    }
  };

  const passwordRole = server.passwordRole;
  const writeConfig = async (port: number): Promise<void> => {
    const settings: Record<string, string | number> = {
      listen_addr: LOOPBACK,
      listen_port: port,
      unix_socket_dir: '',
      auth_type: 'hba',
      auth_hba_file: join(root, 'hba.conf'),
      auth_file: join(root, 'userlist.txt'),
      pool_mode: resolved.poolMode,
      default_pool_size: resolved.defaultPoolSize,
      max_client_conn: resolved.maxClientConnections,
      server_reset_query: 'DISCARD ALL',
      server_login_retry: 0.1,
      server_connect_timeout: 5,
      ignore_startup_parameters: 'extra_float_digits',
      logfile: logFile,
      pidfile: join(root, 'pgbouncer.pid'),
      ...resolved.settings,
    };
    const lines = [
      '; Written by startPgBouncer() from @enhanced-pool/testing',
      '[databases]',
      `* = host=${server.host} port=${server.port}`,
      '[pgbouncer]',
      ...Object.entries(settings).map(([name, value]) => `${name} = ${value}`),
      '',
    ];
    await writeFile(configFile, lines.join('\n'));
    await writeFile(
      join(root, 'hba.conf'),
      [
        `host all ${server.user} ${LOOPBACK}/32 trust`,
        `host all all ${LOOPBACK}/32 scram-sha-256`,
        '',
      ].join('\n'),
    );
    const users = [`${quote(server.user)} ""`];
    if (passwordRole !== undefined) {
      users.push(`${quote(passwordRole.user)} ${quote(passwordRole.password)}`);
    }
    await writeFile(join(root, 'userlist.txt'), `${users.join('\n')}\n`, { mode: 0o600 });
    if (user !== undefined) {
      for (const file of ['', 'pgbouncer.ini', 'hba.conf', 'userlist.txt']) {
        await chown(join(root, file), user.uid, user.gid);
      }
    }
  };

  let port = 0;
  try {
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      await writeConfig(port);
      const started = spawn(binaryPath(), [configFile], {
        cwd: root,
        stdio: 'ignore',
        ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
      });
      child = started;
      started.on('error', () => {});
      const listening = await waitForListener(port, started, performance.now() + START_DEADLINE_MS);
      if (listening) break;
      started.kill('SIGKILL');
      const tail = await logTail();
      const raced = /Address already in use|bind/i.test(tail);
      if (!raced || attempt >= PORT_ATTEMPTS) {
        throw new PgBouncerError(
          'PGBOUNCER_START_FAILED',
          `PgBouncer did not start on ${LOOPBACK}:${port} (files in ${root}).\nLog:\n${tail}`,
        );
      }
    }
  } catch (error) {
    killSync();
    unregister();
    throw error;
  }

  const running = child as ChildProcess;
  const exited = new Promise<void>((resolve) => {
    if (running.exitCode !== null || running.signalCode !== null) resolve();
    else running.once('exit', () => resolve());
  });
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (running.exitCode === null && running.signalCode === null) {
      // SIGINT: PgBouncer's "safe shutdown", closing its server connections before it exits.
      running.kill('SIGINT');
      const timer = setTimeout(() => running.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    }
    unregister();
    await rm(root, { recursive: true, force: true });
  };

  const database = server.database;
  const connectionString = `postgres://${server.user}@${LOOPBACK}:${port}/${database}`;
  const passwordConnectionString =
    passwordRole === undefined
      ? undefined
      : `postgres://${passwordRole.user}:${encodeURIComponent(passwordRole.password)}@${LOOPBACK}:${port}/${database}`;
  const bouncer: PgBouncerServer = {
    poolMode: resolved.poolMode,
    host: LOOPBACK,
    port,
    database,
    user: server.user,
    connectionString,
    passwordConnectionString,
    logTail,
    stop,
    [Symbol.asyncDispose]: stop,
  };
  Object.defineProperty(bouncer, inspect.custom, {
    enumerable: false,
    value: () =>
      `PgBouncerServer { poolMode: '${resolved.poolMode}', connectionString: '${connectionString}', ` +
      `passwordConnectionString: ${passwordConnectionString === undefined ? 'undefined' : "'[redacted]'"} }`,
  });
  return bouncer;
}
