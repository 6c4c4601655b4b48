import { missingCapability, type PostgresServer } from '@enhanced-pool/testing';
import type { EventLog } from './event-log.js';

/** The faults the dashboard's buttons inject. */
export type FaultName = 'kill-idle' | 'kill-all' | 'restart' | 'stop' | 'start';

/** Every {@link FaultName}, in the dashboard's order. */
export const FAULT_NAMES: readonly FaultName[] = Object.freeze([
  'kill-idle',
  'kill-all',
  'restart',
  'stop',
  'start',
]);

/**
 * The database server as far as the service knows: `up`, `down` (stopped by a fault), or in
 * the middle of a fault (`restarting`, `stopping`, `starting`). `unknown` after a fault failed
 * half-way.
 */
export type ServerStatus = 'up' | 'down' | 'restarting' | 'stopping' | 'starting' | 'unknown';

/** Whether a fault can be injected now, and if not, why (shown on the disabled button). */
export interface FaultAvailability {
  readonly available: boolean;
  readonly reason?: string;
}

/** What the dashboard shows about the server and its fault buttons. */
export interface FaultsStatus {
  readonly server: ServerStatus;
  /** The fault being injected, if any: one at a time. */
  readonly busy: FaultName | undefined;
  readonly available: Readonly<Record<FaultName, FaultAvailability>>;
}

/** Stable codes of {@link FaultError}. */
export type FaultErrorCode = 'FAULT_UNAVAILABLE' | 'FAULT_BUSY' | 'FAULT_FAILED';

/**
 * A fault that could not be injected: the server can't do it (e.g. it comes from
 * `DATABASE_URL`), another fault is in progress, or the server failed to do it. The API answers
 * 409 for the first two and 500 for the last.
 */
export class FaultError extends Error {
  readonly code: FaultErrorCode;
  readonly fault: FaultName;

  constructor(code: FaultErrorCode, fault: FaultName, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FaultError';
    this.code = code;
    this.fault = fault;
  }
}

/** Options of {@link createFaults}. */
export interface FaultsOptions {
  /** The server to misbehave (from `startPostgres()`). */
  readonly server: PostgresServer;
  /** The pool's `application_name`: the kill faults terminate only this service's backends. */
  readonly applicationName: string;
  /** Where each fault and its outcome is recorded. */
  readonly events: EventLog;
  /**
   * How long `restart` keeps the server down.
   * @default 3_000
   */
  readonly restartDowntimeMs?: number;
  /**
   * `kill-idle` terminates backends that have been idle on the server at least this long. A
   * connection leased to a caller is idle on the server for a moment between two statements;
   * this keeps the fault to connections that are idle in the pool, the ones a firewall, a NAT
   * timeout or a DBA's idle-session script kills. `kill-all` is the fault for the others.
   * @default 250
   */
  readonly idleForMs?: number;
  /**
   * Wall-clock source for durations in event messages.
   * @default performance.now
   */
  readonly now?: () => number;
}

/** Fault injection against the service's own database server, one fault at a time. */
export interface Faults {
  status(): FaultsStatus;
  /**
   * Terminates the service's backends idle for at least `idleForMs` (the pool's idle
   * connections); resolves with how many.
   */
  killIdle(): Promise<{ readonly terminated: number }>;
  /** Terminates every backend of the service, busy ones included; resolves with how many. */
  killAll(): Promise<{ readonly terminated: number }>;
  /** Crashes the server (`immediate`), keeps it down `restartDowntimeMs`, starts it again. */
  restart(): Promise<{ readonly downtimeMs: number; readonly durationMs: number }>;
  /** Crashes the server and leaves it down until {@link Faults.start}. */
  stop(): Promise<void>;
  /** Starts a server stopped by {@link Faults.stop}. */
  start(): Promise<void>;
  /** Runs the fault named by a dashboard button. */
  inject(fault: FaultName): Promise<unknown>;
}

/** Creates the {@link Faults} of one server. */
export function createFaults(options: FaultsOptions): Faults {
  const { server, applicationName, events } = options;
  const restartDowntimeMs = options.restartDowntimeMs ?? 3_000;
  if (!Number.isFinite(restartDowntimeMs) || restartDowntimeMs < 0) {
    throw new RangeError(`restartDowntimeMs must be a number ≥ 0, got ${restartDowntimeMs}`);
  }
  const idleForMs = options.idleForMs ?? 250;
  if (!Number.isInteger(idleForMs) || idleForMs < 0) {
    throw new RangeError(`idleForMs must be an integer ≥ 0, got ${idleForMs}`);
  }
  const now = options.now ?? (() => performance.now());
  let serverStatus: ServerStatus = 'up';
  let busy: FaultName | undefined;

  const availability = (fault: FaultName): FaultAvailability => {
    const killing = fault === 'kill-idle' || fault === 'kill-all';
    const capability = killing ? 'terminateBackends' : 'restart';
    const missing = missingCapability(server, capability);
    if (missing !== undefined) return { available: false, reason: missing };
    if (busy !== undefined) return { available: false, reason: `${busy} in progress` };
    if (fault === 'start') {
      return serverStatus === 'up'
        ? { available: false, reason: 'the server is already up' }
        : { available: true };
    }
    if (serverStatus !== 'up') return { available: false, reason: `the server is ${serverStatus}` };
    return { available: true };
  };

  const run = async <TResult>(fault: FaultName, body: () => Promise<TResult>): Promise<TResult> => {
    const { available, reason } = availability(fault);
    if (!available) {
      throw new FaultError(
        busy === undefined ? 'FAULT_UNAVAILABLE' : 'FAULT_BUSY',
        fault,
        `Cannot ${fault}: ${reason}`,
      );
    }
    busy = fault;
    try {
      return await body();
    } catch (error) {
      if (fault !== 'kill-idle' && fault !== 'kill-all') serverStatus = 'unknown';
      const message = error instanceof Error ? error.message : String(error);
      events.log('fault', 'error', `${fault} failed: ${message}`);
      throw new FaultError('FAULT_FAILED', fault, `${fault} failed: ${message}`, error);
    } finally {
      busy = undefined;
    }
  };

  const faults: Faults = {
    status() {
      return {
        server: serverStatus,
        busy,
        available: {
          'kill-idle': availability('kill-idle'),
          'kill-all': availability('kill-all'),
          restart: availability('restart'),
          stop: availability('stop'),
          start: availability('start'),
        },
      };
    },
    killIdle() {
      return run('kill-idle', async () => {
        const rows = await server.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE application_name = $1 AND state = 'idle'
              AND state_change <= clock_timestamp() - make_interval(secs => $2::float8 / 1000)`,
          [applicationName, idleForMs],
        );
        const pids = rows.map((row) => row.pid);
        // Still idle at the moment of the kill, or it was leased in the meantime: leave it.
        const terminated =
          pids.length === 0
            ? 0
            : await server.terminateBackends({ applicationName, state: 'idle', pids });
        events.log(
          'fault',
          'warn',
          `kill idle: terminated ${terminated} backend${terminated === 1 ? '' : 's'} of "${applicationName}" idle for ≥ ${idleForMs} ms`,
        );
        return { terminated };
      });
    },
    killAll() {
      return run('kill-all', async () => {
        const terminated = await server.terminateBackends({ applicationName });
        events.log(
          'fault',
          'warn',
          `kill all: terminated ${terminated} backend${terminated === 1 ? '' : 's'} of "${applicationName}", busy ones included`,
        );
        return { terminated };
      });
    },
    restart() {
      return run('restart', async () => {
        const started = now();
        serverStatus = 'restarting';
        events.log(
          'fault',
          'warn',
          `restart: crashing the server (immediate), down for ${restartDowntimeMs} ms`,
        );
        await server.restart({ mode: 'immediate', downtimeMs: restartDowntimeMs });
        serverStatus = 'up';
        const durationMs = Math.round(now() - started);
        events.log(
          'fault',
          'info',
          `restart: the server accepts connections again (${durationMs} ms after the crash)`,
        );
        return { downtimeMs: restartDowntimeMs, durationMs };
      });
    },
    stop() {
      return run('stop', async () => {
        serverStatus = 'stopping';
        events.log('fault', 'warn', 'stop: crashing the server (immediate); it stays down');
        await server.kill();
        serverStatus = 'down';
        events.log('fault', 'warn', 'stop: the server is down');
      });
    },
    start() {
      return run('start', async () => {
        serverStatus = 'starting';
        await server.start();
        serverStatus = 'up';
        events.log('fault', 'info', 'start: the server accepts connections again');
      });
    },
    inject(fault) {
      switch (fault) {
        case 'kill-idle':
          return faults.killIdle();
        case 'kill-all':
          return faults.killAll();
        case 'restart':
          return faults.restart();
        case 'stop':
          return faults.stop();
        case 'start':
          return faults.start();
      }
    },
  };
  return faults;
}
