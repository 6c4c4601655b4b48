import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { countMatchingBackends, runAdminQuery, terminateMatchingBackends } from './admin-client.js';
import { registerForExitCleanup } from './exit-cleanup.js';
import { freePort, LOOPBACK } from './free-port.js';
import { inspectServer } from './inspect-server.js';
import {
  type PostgresPasswordRole,
  type PostgresServer,
  PostgresServerError,
  type RestartOptions,
} from './postgres-server.js';

/** What {@link startLocalPostgres} needs, already validated by `resolveStartPostgresOptions`. */
export interface LocalPostgresConfig {
  readonly binDir: string;
  readonly maxConnections: number;
  readonly settings: Readonly<Record<string, string | number>>;
}

interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const SERVER_OS_USER = 'postgres';
const SUPERUSER = 'postgres';
const DATABASE = 'postgres';
const PASSWORD_ROLE = 'enhanced_pool_password_user';
const PORT_ATTEMPTS = 5;
const BIND_FAILURE = /could not bind|Address already in use|could not create any TCP\/IP sockets/i;

/**
 * PostgreSQL refuses to run as root, so as root every server binary runs as the `postgres` OS
 * user via `runuser`. As anyone else the binaries run as that user.
 */
function resolveServerUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string): number =>
      Number(execFileSync('id', [flag, SERVER_OS_USER], { encoding: 'utf8' }).trim());
    return { name: SERVER_OS_USER, uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new PostgresServerError(
      'POSTGRES_UNAVAILABLE',
      `Running as root, PostgreSQL must run as an unprivileged OS user, but user "${SERVER_OS_USER}" does not exist. ` +
        'Create it, run the tests as another user, or set DATABASE_URL.',
      { cause: error },
    );
  }
}

/** The environment for server binaries: ours without `PG*` variables that would redirect them. */
function serverEnvironment(): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('PG')) environment[name] = value;
  }
  return environment;
}

function quoteSetting(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * Starts a throwaway server from local binaries: initdb in a temp dir, trust auth for
 * `postgres`, scram-sha-256 for every other role over TCP, durability off, a free loopback port.
 */
export async function startLocalPostgres(config: LocalPostgresConfig): Promise<PostgresServer> {
  const user = resolveServerUser();
  const root = await mkdtemp(join(tmpdir(), 'enhanced-pool-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const environment = serverEnvironment();

  const command = (tool: string, args: readonly string[]): [string, string[]] =>
    user === undefined
      ? [join(config.binDir, tool), [...args]]
      : ['runuser', ['-u', user.name, '--', join(config.binDir, tool), ...args]];

  const run = async (tool: string, args: readonly string[]): Promise<void> => {
    const [file, fileArgs] = command(tool, args);
    await new Promise<void>((resolve, reject) => {
      execFile(
        file,
        fileArgs,
        { cwd: root, env: environment, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error === null) resolve();
          else reject(Object.assign(error, { output: `${stdout}${stderr}`.trim() }));
        },
      );
    });
  };

  let state: 'starting' | 'running' | 'down' | 'stopped' = 'starting';
  let port = 0;

  const stopSync = (): void => {
    if (state !== 'stopped' && state !== 'down') {
      const [file, fileArgs] = command('pg_ctl', [
        'stop',
        '-D',
        dataDir,
        '-m',
        'immediate',
        '-w',
        '-s',
      ]);
      spawnSync(file, fileArgs, { cwd: root, env: environment, stdio: 'ignore', timeout: 30_000 });
    }
    state = 'stopped';
    rmSync(root, { recursive: true, force: true });
  };
  const unregister = registerForExitCleanup(stopSync);

  const logTail = async (fromByte: number): Promise<string> => {
    try {
      const log = (await readFile(logFile)).subarray(fromByte).toString('utf8');
      return log.trim().split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };

  const logSize = async (): Promise<number> => {
    try {
      return (await stat(logFile)).size;
    } catch {
      return 0;
    }
  };

  const writeSettings = async (): Promise<void> => {
    const socketDirectory = root.length < 80 ? root : '';
    const settings: Record<string, string | number> = {
      listen_addresses: LOOPBACK,
      port,
      unix_socket_directories: socketDirectory,
      fsync: 'off',
      full_page_writes: 'off',
      // synchronous_commit stays on: off would lose the last commits on kill(), which promises
      // to keep data. With fsync off a commit only write()s WAL to the page cache anyway.
      max_connections: config.maxConnections,
      superuser_reserved_connections: 0,
      password_encryption: 'scram-sha-256',
      ...config.settings,
    };
    const lines = Object.entries(settings).map(
      ([name, value]) => `${name} = ${quoteSetting(value)}`,
    );
    const file = join(dataDir, 'enhanced-pool.conf');
    await writeFile(
      file,
      `# Written by startPostgres() from @enhanced-pool/testing\n${lines.join('\n')}\n`,
    );
    if (user !== undefined) await chown(file, user.uid, user.gid);
  };

  const startServer = async (): Promise<void> => {
    const from = await logSize();
    try {
      await run('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30', '-s']);
    } catch (error) {
      const tail = await logTail(from);
      throw Object.assign(
        new PostgresServerError(
          'POSTGRES_START_FAILED',
          `PostgreSQL did not start on ${LOOPBACK}:${port} (data in ${dataDir}).\nServer log:\n${tail}`,
          { cause: error },
        ),
        { bindFailure: BIND_FAILURE.test(tail) },
      );
    }
  };

  const passwordRolePassword = generatePassword();
  try {
    if (user !== undefined) await chown(root, user.uid, user.gid);
    try {
      await run('initdb', [
        '-D',
        dataDir,
        '-A',
        'trust',
        '-U',
        SUPERUSER,
        '--no-sync',
        '-E',
        'UTF8',
        '--locale=C',
      ]);
    } catch (error) {
      const output = (error as { output?: string }).output ?? '';
      throw new PostgresServerError('POSTGRES_START_FAILED', `initdb failed:\n${output}`, {
        cause: error,
      });
    }
    await writeFile(
      join(dataDir, 'pg_hba.conf'),
      [
        '# Written by startPostgres(): the superuser is trusted, every other role needs a password over TCP.',
        'local all all trust',
        `host all ${SUPERUSER} ${LOOPBACK}/32 trust`,
        `host all all ${LOOPBACK}/32 scram-sha-256`,
        '',
      ].join('\n'),
    );
    await appendFile(join(dataDir, 'postgresql.conf'), "\ninclude 'enhanced-pool.conf'\n");

    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      await writeSettings();
      try {
        await startServer();
        break;
      } catch (error) {
        const raced = (error as { bindFailure?: boolean }).bindFailure === true;
        if (!raced || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
    state = 'running';
  } catch (error) {
    stopSync();
    unregister();
    throw error;
  }

  const connectionString = `postgres://${SUPERUSER}@${LOOPBACK}:${port}/${DATABASE}`;
  const passwordRole: PostgresPasswordRole = {
    user: PASSWORD_ROLE,
    password: passwordRolePassword,
    connectionString: `postgres://${PASSWORD_ROLE}:${encodeURIComponent(passwordRolePassword)}@${LOOPBACK}:${port}/${DATABASE}`,
  };
  try {
    // Utility statements take no bind parameters; the password is base64url, so it needs no escaping.
    await runAdminQuery(
      connectionString,
      `CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD '${passwordRolePassword}'`,
    );
  } catch (error) {
    stopSync();
    unregister();
    throw new PostgresServerError(
      'POSTGRES_START_FAILED',
      'The server started but the password role could not be created',
      { cause: error },
    );
  }

  // One lifecycle operation at a time: kill() racing start() must not leave the state wrong.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(operation: () => Promise<T>): Promise<T> => {
    const next = queue.then(operation, operation);
    queue = next.catch(() => {});
    return next;
  };

  const ensureNotStopped = (operation: string): void => {
    if (state === 'stopped') {
      throw new PostgresServerError(
        'POSTGRES_UNSUPPORTED',
        `Cannot ${operation}: the server was stopped and its data directory removed`,
      );
    }
  };

  const shutdown = async (mode: 'immediate' | 'fast'): Promise<void> => {
    if (state !== 'running') return;
    await run('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '30', '-s']);
    state = 'down';
  };

  const bringUp = async (): Promise<void> => {
    if (state === 'running') return;
    await startServer();
    state = 'running';
  };

  const scope = { ownUserAndDatabaseOnly: false };
  const stop = (): Promise<void> =>
    serial(async () => {
      if (state === 'stopped') return;
      if (state === 'running') await shutdown('immediate').catch(() => {});
      state = 'stopped';
      unregister();
      await rm(root, { recursive: true, force: true });
    });

  const server: PostgresServer = {
    kind: 'local',
    connectionString,
    host: LOOPBACK,
    port,
    database: DATABASE,
    user: SUPERUSER,
    passwordRole,
    capabilities: Object.freeze({
      restart: true,
      terminateBackends: true,
      concurrentBackends: true,
      passwordAuth: true,
    }),
    query: <TRow>(sql: string, params?: unknown[]) =>
      runAdminQuery<TRow>(connectionString, sql, params),
    terminateBackends: (filter = {}) => terminateMatchingBackends(connectionString, scope, filter),
    countConnections: (filter = {}) => countMatchingBackends(connectionString, scope, filter),
    kill: () =>
      serial(async () => {
        ensureNotStopped('kill()');
        await shutdown('immediate');
      }),
    start: () =>
      serial(async () => {
        ensureNotStopped('start()');
        await bringUp();
      }),
    restart: (options: RestartOptions = {}) =>
      serial(async () => {
        ensureNotStopped('restart()');
        await shutdown(options.mode ?? 'immediate');
        if (options.downtimeMs !== undefined && options.downtimeMs > 0) {
          await delay(options.downtimeMs);
        }
        await bringUp();
      }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return inspectServer(server);
}
