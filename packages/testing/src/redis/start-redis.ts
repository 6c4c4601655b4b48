import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { registerForExitCleanup } from '../postgres/exit-cleanup.js';
import { freePort, LOOPBACK } from '../postgres/free-port.js';

/** Where {@link startRedis} looks for the server when `binary` is not given. */
export const DEFAULT_REDIS_SERVER = '/usr/bin/redis-server';

/** Stable codes of {@link RedisServerError}. */
export type RedisServerErrorCode =
  /** No `redis-server` executable at the configured path. */
  | 'REDIS_UNAVAILABLE'
  /** The server did not start; the message carries its log's tail. */
  | 'REDIS_START_FAILED';

/** Why {@link startRedis} could not give you a server. */
export class RedisServerError extends Error {
  readonly code: RedisServerErrorCode;

  constructor(code: RedisServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'RedisServerError';
  }
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * The `redis-server` executable.
   * @default `REDIS_SERVER` from the environment, else `/usr/bin/redis-server`
   */
  readonly binary?: string;
  /**
   * Extra `redis-server` settings, e.g. `{ maxclients: 50 }` (passed as `--name value`).
   * @default {}
   */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** A throwaway Redis on a free loopback port, with its data in a temp directory. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The temp directory holding the server's log (removed by `stop()`). */
  readonly directory: string;
  /** The server's process id, or `undefined` while it is down. */
  readonly pid: number | undefined;
  /** Kills the server (`SIGKILL`, no goodbye to clients); `restart()` brings it back. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after `kill()`), empty: nothing is persisted. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function resolveBinary(options: StartRedisOptions): string {
  return options.binary ?? process.env.REDIS_SERVER ?? DEFAULT_REDIS_SERVER;
}

/**
 * Why {@link startRedis} can't run here, as a sentence to print when skipping a test, or
 * `undefined` when it can: `it.skipIf(redisUnavailable())`.
 */
export function redisUnavailable(options: StartRedisOptions = {}): string | undefined {
  const binary = resolveBinary(options);
  try {
    accessSync(binary, constants.X_OK);
    return undefined;
  } catch {
    return `no redis-server executable at ${binary} (install redis-server or set REDIS_SERVER)`;
  }
}

const READY = 'Ready to accept connections';
const BIND_FAILURE = /Address already in use|Could not create server TCP listening socket/i;
const START_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;

/**
 * Starts `redis-server` as a child process on a free 127.0.0.1 port: no persistence, protected
 * mode on, data and log in a fresh temp directory. Resolves once the server accepts
 * connections. Throws {@link RedisServerError} (`REDIS_UNAVAILABLE` without the executable).
 * A server left running is killed and its directory removed when the process exits.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = resolveBinary(options);
  const missing = redisUnavailable(options);
  if (missing !== undefined) throw new RedisServerError('REDIS_UNAVAILABLE', missing);
  const root = await mkdtemp(join(tmpdir(), 'enhanced-pool-redis-'));
  const logFile = join(root, 'redis.log');
  let child: ChildProcess | undefined;
  let port = 0;
  let stopped = false;

  const killSync = (): void => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  const unregister = registerForExitCleanup(() => {
    killSync();
    rmSync(root, { recursive: true, force: true });
  });

  const waitForExit = async (process: ChildProcess): Promise<void> => {
    if (process.exitCode !== null || process.signalCode !== null) return;
    await new Promise<void>((resolve) => process.once('exit', () => resolve()));
  };

  const launch = async (): Promise<void> => {
    const log = await open(logFile, 'a');
    const from = (await log.stat()).size;
    const args = [
      '--port',
      String(port),
      '--bind',
      LOOPBACK,
      '--dir',
      root,
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
      '--daemonize',
      'no',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => [
        `--${name}`,
        String(value),
      ]),
    ];
    const started = spawn(binary, args, { cwd: root, stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    child = started;
    const exited = new Promise<'exited'>((resolve) =>
      started.once('exit', () => resolve('exited')),
    );
    started.once('error', () => {});
    const deadline = Date.now() + START_TIMEOUT_MS;
    // The server says when it listens only in its log; there is no event to await.
    for (;;) {
      const text = (await readFile(logFile)).subarray(from).toString('utf8');
      if (text.includes(READY)) return;
      const outcome = await Promise.race([
        exited,
        delay(10, undefined, { ref: false }).then(() => 'waiting' as const),
      ]);
      if (outcome === 'exited' || Date.now() > deadline) {
        killSync();
        await waitForExit(started);
        const tail = text.trim().split('\n').slice(-10).join('\n');
        throw Object.assign(
          new RedisServerError(
            'REDIS_START_FAILED',
            `redis-server did not start on ${LOOPBACK}:${port}.\nServer log:\n${tail}`,
          ),
          { bindFailure: BIND_FAILURE.test(tail) },
        );
      }
    }
  };

  try {
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (error) {
        const bindFailure = (error as { bindFailure?: boolean }).bindFailure === true;
        if (!bindFailure || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    unregister();
    await rm(root, { recursive: true, force: true });
    throw error;
  }

  return {
    host: LOOPBACK,
    port,
    url: `redis://${LOOPBACK}:${port}`,
    directory: root,
    get pid() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
        ? child.pid
        : undefined;
    },
    async kill() {
      if (child === undefined) return;
      const running = child;
      killSync();
      await waitForExit(running);
    },
    async restart() {
      if (stopped) throw new RedisServerError('REDIS_START_FAILED', 'the server was stopped');
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        const running = child;
        killSync();
        await waitForExit(running);
      }
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const running = child;
      if (running !== undefined && running.exitCode === null && running.signalCode === null) {
        running.kill('SIGTERM');
        const timeout = delay(5_000, undefined, { ref: false }).then(() => 'timeout' as const);
        if ((await Promise.race([waitForExit(running), timeout])) === 'timeout') {
          killSync();
          await waitForExit(running);
        }
      }
      unregister();
      await rm(root, { recursive: true, force: true });
    },
  };
}
