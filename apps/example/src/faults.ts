import {
  type Clock,
  InvalidOptionError,
  systemClock,
  type TimerHandle,
  unrefTimer,
} from '@enhanced-pool/core';
import {
  type FaultProxy,
  type FaultProxyStatus,
  missingCapability,
  type PostgresServer,
} from '@enhanced-pool/testing';
import type { EventLog } from './event-log.js';

/**
 * The faults the dashboard's buttons inject. The first five go through the fault proxy between
 * the pool and the database, so they work on every database; the last three need a server that
 * allows them (a throwaway local one; `DATABASE_URL` may terminate its own backends).
 */
export type FaultName =
  | 'outage'
  | 'kill'
  | 'blackhole'
  | 'latency'
  | 'heal'
  | 'terminate-idle'
  | 'terminate-all'
  | 'restart';

/** Every {@link FaultName}, in the dashboard's order. */
export const FAULT_NAMES: readonly FaultName[] = Object.freeze([
  'outage',
  'kill',
  'blackhole',
  'latency',
  'heal',
  'terminate-idle',
  'terminate-all',
  'restart',
]);

/** Faults of the real server, offered only where it allows them. */
export const SERVER_FAULTS: ReadonlySet<FaultName> = new Set([
  'terminate-idle',
  'terminate-all',
  'restart',
]);

/** The database server as far as the service knows. `unknown` after a restart failed half-way. */
export type ServerStatus = 'up' | 'restarting' | 'unknown';

/** Whether a fault can be injected now, and if not, why. */
export interface FaultAvailability {
  /** The database allows this fault at all (the dashboard shows no button otherwise). */
  readonly supported: boolean;
  readonly available: boolean;
  readonly reason?: string;
}

/** A timed fault in progress. */
export interface ActiveFault {
  readonly name: 'outage' | 'blackhole';
  /** Wall-clock time it ends (epoch ms). */
  readonly endsAt: number;
}

/** What the dashboard shows about the faults. */
export interface FaultsStatus {
  readonly server: ServerStatus;
  /** A server fault being injected, if any: one at a time. */
  readonly busy: FaultName | undefined;
  /** The outage or blackhole in progress, if any. */
  readonly active: ActiveFault | undefined;
  readonly proxy: FaultProxyStatus;
  readonly available: Readonly<Record<FaultName, FaultAvailability>>;
}

/** Stable codes of {@link FaultError}. */
export type FaultErrorCode = 'FAULT_UNAVAILABLE' | 'FAULT_BUSY' | 'FAULT_FAILED';

/**
 * A fault that could not be injected: the server does not allow it, another server fault is in
 * progress, or the server failed to do it. The API answers 409 for the first two, 500 for the last.
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
  /** The proxy every pool connection goes through. */
  readonly proxy: FaultProxy;
  /** The database server behind it, for the faults only a real server can do. */
  readonly server: PostgresServer;
  /** The pool's `application_name`: terminations touch only this service's backends. */
  readonly applicationName: string;
  /** Where each fault and its outcome is recorded. */
  readonly events: EventLog;
  /**
   * How long `restart` keeps the server down.
   * @default 3_000
   */
  readonly restartDowntimeMs?: number;
  /**
   * `terminate-idle` ends backends idle on the server at least this long: the pool's idle
   * connections, not the leased ones between two statements.
   * @default 250
   */
  readonly idleForMs?: number;
  /**
   * Times the blackhole and measures the restart.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Wall-clock source for `endsAt`.
   * @default Date.now
   */
  readonly wallClock?: () => number;
}

/** Parameters a fault takes from the request body. */
export interface FaultParameters {
  /** `outage`, `blackhole`: how long, 0.1 to 300 s. */
  readonly seconds?: unknown;
  /** `latency`: added to each round trip, 0 to 10000 ms (0 removes it). */
  readonly ms?: unknown;
  /** `blackhole`: also silence open connections. Default true. */
  readonly existing?: unknown;
}

/** Fault injection for the service's database. */
export interface Faults {
  status(): FaultsStatus;
  /** Runs the fault named by a dashboard button; resolves once it has taken effect. */
  inject(fault: FaultName, parameters?: FaultParameters): Promise<unknown>;
  /** Ends a timed fault's timer (the proxy is the caller's to close). */
  close(): void;
}

function seconds(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0.1 || value > 300) {
    throw new InvalidOptionError('seconds', value, 'a number of seconds from 0.1 to 300');
  }
  return value;
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/** Creates the {@link Faults} of one proxy and server. */
export function createFaults(options: FaultsOptions): Faults {
  const { proxy, server, applicationName, events } = options;
  const restartDowntimeMs = options.restartDowntimeMs ?? 3_000;
  if (!Number.isFinite(restartDowntimeMs) || restartDowntimeMs < 0) {
    throw new InvalidOptionError('restartDowntimeMs', restartDowntimeMs, 'a number ≥ 0');
  }
  const idleForMs = options.idleForMs ?? 250;
  if (!Number.isInteger(idleForMs) || idleForMs < 0) {
    throw new InvalidOptionError('idleForMs', idleForMs, 'an integer ≥ 0');
  }
  const clock = options.clock ?? systemClock;
  const wallClock = options.wallClock ?? Date.now;
  let serverStatus: ServerStatus = 'up';
  let busy: FaultName | undefined;
  let active: ActiveFault | undefined;
  let blackholeTimer: TimerHandle | undefined;

  const endBlackholeTimer = (): void => {
    if (blackholeTimer !== undefined) clock.clearTimeout(blackholeTimer);
    blackholeTimer = undefined;
  };

  const availability = (fault: FaultName): FaultAvailability => {
    if (SERVER_FAULTS.has(fault)) {
      const missing = missingCapability(
        server,
        fault === 'restart' ? 'restart' : 'terminateBackends',
      );
      if (missing !== undefined) return { supported: false, available: false, reason: missing };
      if (busy !== undefined) {
        return { supported: true, available: false, reason: `${busy} in progress` };
      }
      if (serverStatus !== 'up') {
        return { supported: true, available: false, reason: `the server is ${serverStatus}` };
      }
    }
    return { supported: true, available: true };
  };

  const onServer = async <TResult>(
    fault: FaultName,
    body: () => Promise<TResult>,
  ): Promise<TResult> => {
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
      if (fault === 'restart') serverStatus = 'unknown';
      const message = error instanceof Error ? error.message : String(error);
      events.log('fault', 'error', `${fault} failed: ${message}`);
      throw new FaultError('FAULT_FAILED', fault, `${fault} failed: ${message}`, error);
    } finally {
      busy = undefined;
    }
  };

  const outage = (parameters: FaultParameters) => {
    const durationS = seconds(parameters.seconds);
    endBlackholeTimer();
    const endsAt = wallClock() + durationS * 1_000;
    const outageFault: ActiveFault = { name: 'outage', endsAt };
    const cutBefore = proxy.status().cut;
    const ended = proxy.outage({ durationMs: durationS * 1_000 });
    active = outageFault;
    const cut = proxy.status().cut - cutBefore;
    events.log(
      'fault',
      'warn',
      `outage: ${plural(cut, 'connection')} cut, new connections refused for ${durationS} s`,
    );
    void ended.then(() => {
      // Only the outage that is still the active fault announces its end.
      if (active !== outageFault) return;
      active = undefined;
      if (proxy.status().mode === 'forwarding') {
        events.log('fault', 'info', 'outage over: connections go through again');
      }
    });
    return { seconds: durationS, endsAt, cut };
  };

  const blackhole = (parameters: FaultParameters) => {
    const durationS = seconds(parameters.seconds);
    const existing = parameters.existing ?? true;
    if (typeof existing !== 'boolean') {
      throw new InvalidOptionError('existing', existing, 'true or false');
    }
    endBlackholeTimer();
    proxy.blackhole({ existing });
    const endsAt = wallClock() + durationS * 1_000;
    const blackholeFault: ActiveFault = { name: 'blackhole', endsAt };
    active = blackholeFault;
    blackholeTimer = clock.setTimeout(() => {
      blackholeTimer = undefined;
      if (active !== blackholeFault) return;
      active = undefined;
      // heal() also clears latency: keep the latency the user set.
      const { latencyMs } = proxy.status();
      proxy.heal();
      proxy.setLatency(latencyMs);
      events.log('fault', 'info', 'blackhole over: connections are answered again');
    }, durationS * 1_000);
    unrefTimer(blackholeTimer);
    events.log(
      'fault',
      'warn',
      `blackhole for ${durationS} s: connects hang${existing ? ', open connections go silent' : ''}`,
    );
    return { seconds: durationS, endsAt, existing };
  };

  const latency = (parameters: FaultParameters) => {
    const ms = parameters.ms;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 10_000) {
      throw new InvalidOptionError('ms', ms, 'a number of milliseconds from 0 to 10000');
    }
    proxy.setLatency(ms);
    events.log(
      'fault',
      ms === 0 ? 'info' : 'warn',
      ms === 0 ? 'latency removed' : `latency: every round trip ${ms} ms slower`,
    );
    return { ms };
  };

  const faults: Faults = {
    status() {
      const available = {} as Record<FaultName, FaultAvailability>;
      for (const name of FAULT_NAMES) available[name] = availability(name);
      return { server: serverStatus, busy, active, proxy: proxy.status(), available };
    },
    async inject(fault, parameters = {}) {
      switch (fault) {
        case 'outage':
          return outage(parameters);
        case 'kill': {
          const cut = proxy.cut();
          events.log('fault', 'warn', `kill: ${plural(cut, 'connection')} cut at once`);
          return { cut };
        }
        case 'blackhole':
          return blackhole(parameters);
        case 'latency':
          return latency(parameters);
        case 'heal': {
          endBlackholeTimer();
          active = undefined;
          proxy.heal();
          events.log('fault', 'info', 'healed: no outage, no blackhole, no latency');
          return {};
        }
        case 'terminate-idle':
          return onServer(fault, async () => {
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
              `terminate idle: pg_terminate_backend ended ${plural(terminated, 'backend')} idle for ≥ ${idleForMs} ms`,
            );
            return { terminated };
          });
        case 'terminate-all':
          return onServer(fault, async () => {
            const terminated = await server.terminateBackends({ applicationName });
            events.log(
              'fault',
              'warn',
              `terminate all: pg_terminate_backend ended ${plural(terminated, 'backend')}, busy ones included`,
            );
            return { terminated };
          });
        case 'restart':
          return onServer(fault, async () => {
            const started = clock.now();
            serverStatus = 'restarting';
            events.log(
              'fault',
              'warn',
              `restart: crashing the server (immediate), down for ${restartDowntimeMs} ms`,
            );
            await server.restart({ mode: 'immediate', downtimeMs: restartDowntimeMs });
            serverStatus = 'up';
            const durationMs = Math.round(clock.now() - started);
            events.log(
              'fault',
              'info',
              `restart: the server accepts connections again (${durationMs} ms after the crash)`,
            );
            return { downtimeMs: restartDowntimeMs, durationMs };
          });
      }
    },
    close() {
      endBlackholeTimer();
    },
  };
  return faults;
}
