import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type Clock,
  InvalidOptionError,
  numberOption,
  systemClock,
  type TimerHandle,
} from '@enhanced-pool/core';
import { type ConnectionHost, ProxiedConnection } from './proxied-connection.js';

/** Where a {@link FaultProxy} forwards to. */
export interface FaultProxyTarget {
  readonly host: string;
  readonly port: number;
}

/** Options of {@link createFaultProxy}. */
export interface FaultProxyOptions {
  /**
   * The real server, e.g. `{ host: server.host, port: server.port }` of `startPostgres()`, or a
   * connection string (`postgres://user@host:5432/db`) whose host and port are used.
   */
  readonly target: FaultProxyTarget | string;
  /**
   * Address the proxy listens on. Your code connects here instead of to the target.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * Port the proxy listens on; `0` picks a free one (read it from `proxy.port`).
   * @default 0
   */
  readonly port?: number;
  /**
   * Latency added from the start, as {@link FaultProxy.setLatency} sets it.
   * @default 0
   */
  readonly latencyMs?: number;
  /**
   * Times outages and latency. Pass `createFakeClock()` to end an outage or release delayed
   * bytes exactly when a test says so.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/**
 * What the proxy does with traffic now:
 * - `forwarding`: every byte goes through (after the added latency, if any);
 * - `refusing`: new connections are reset the moment they arrive; open ones are left alone;
 * - `outage`: refusing, after every open connection was cut, until the outage ends;
 * - `blackhole`: new connections are accepted and then never answered; with
 *   `{ existing: true }` open connections go silent too.
 */
export type FaultProxyMode = 'forwarding' | 'refusing' | 'outage' | 'blackhole';

/** A snapshot of the proxy, for assertions and dashboards. */
export interface FaultProxyStatus {
  readonly mode: FaultProxyMode;
  /** Milliseconds added to every chunk from the server to the client. */
  readonly latencyMs: number;
  /** Milliseconds until a running outage ends, on the proxy's clock; `undefined` otherwise. */
  readonly outageRemainingMs: number | undefined;
  /** Client connections open now, held ones included. */
  readonly open: number;
  /** Of `open`, those accepted during a blackhole and not yet passed to the server. */
  readonly held: number;
  /** Client connections accepted and forwarded (or held) since the proxy started. */
  readonly accepted: number;
  /** Client connections reset on arrival while refusing. */
  readonly refused: number;
  /** Open connections cut by {@link FaultProxy.cut} or an outage. */
  readonly cut: number;
}

/** Options of {@link FaultProxy.outage}. */
export interface FaultProxyOutageOptions {
  /** How long the outage lasts; the proxy forwards again after it. */
  readonly durationMs: number;
}

/** Options of {@link FaultProxy.blackhole}. */
export interface FaultProxyBlackholeOptions {
  /**
   * Also stall open connections in both directions (a network partition), not only new ones.
   * @default false
   */
  readonly existing?: boolean;
}

/**
 * A TCP proxy between your code and a server that misbehaves on command: refuse connects, cut
 * open connections, a timed outage, a blackhole that makes connects hang, added latency. It
 * works with any server and any client (PostgreSQL, PgBouncer, Redis…), so a service's
 * resilience can be tested without killing the real server.
 *
 * Faults are modes, not queued events: the last call wins, and {@link FaultProxy.heal} ends
 * them all. `await using proxy = await createFaultProxy(...)` closes it at the end of the scope.
 */
export interface FaultProxy extends AsyncDisposable {
  /** The address to connect to instead of the target. */
  readonly host: string;
  readonly port: number;
  readonly target: FaultProxyTarget;
  /**
   * `connectionString` with its host and port replaced by the proxy's, everything else kept
   * (user, password, database, parameters), so a client connects through the proxy.
   */
  connectionString(connectionString: string): string;
  /** Resets new connections on arrival (clients see `ECONNRESET`); open ones keep working. */
  refuse(): void;
  /** Resets every open connection now, in both directions; returns how many were cut. */
  cut(): number;
  /**
   * Cuts every open connection and refuses new ones for `durationMs`, then forwards again.
   * Resolves when the outage ends (on time, or earlier through `heal()`, another fault or
   * `close()`). A second outage replaces the first.
   */
  outage(options: FaultProxyOutageOptions): Promise<void>;
  /**
   * Accepts new connections and never answers them, so a client's connect or handshake hangs
   * until its own timeout. On `heal()` the connections still held reach the server and carry on,
   * as after a network glitch.
   */
  blackhole(options?: FaultProxyBlackholeOptions): void;
  /**
   * Delays every chunk from the server to the client by `latencyMs` (order kept), so each
   * round trip takes that much longer. `0` removes it. Independent of the modes above.
   */
  setLatency(latencyMs: number): void;
  /** Forwards everything again: ends refusing, an outage or a blackhole, and removes latency. */
  heal(): void;
  status(): FaultProxyStatus;
  /** Stops listening and resets every open connection. Idempotent. */
  close(): Promise<void>;
}

/** {@link FaultProxyOptions} with defaults applied and every value checked. */
interface ResolvedFaultProxyOptions {
  readonly target: FaultProxyTarget;
  readonly host: string;
  readonly port: number;
  readonly latencyMs: number;
  readonly clock: Clock;
}

const MAX_LATENCY_MS = 60_000;
const MAX_OUTAGE_MS = 24 * 60 * 60 * 1_000;

function resolveTarget(target: unknown): FaultProxyTarget {
  if (typeof target === 'string') {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      // Never echo the string: it may hold a password.
      throw new InvalidOptionError('target', '<connection string>', 'a URL with a host and port');
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? 5432 : Number(url.port);
    if (host === '') {
      throw new InvalidOptionError('target', '<connection string>', 'a URL with a host and port');
    }
    return { host, port };
  }
  if (typeof target !== 'object' || target === null) {
    throw new InvalidOptionError(
      'target',
      target,
      'a { host, port } object or a connection string',
    );
  }
  const { host, port } = target as Partial<FaultProxyTarget>;
  if (typeof host !== 'string' || host === '') {
    throw new InvalidOptionError('target.host', host, 'a non-empty host name or address');
  }
  numberOption('target.port', port, 0, { min: 1, max: 65_535, integer: true });
  if (port === undefined) {
    throw new InvalidOptionError('target.port', port, 'an integer from 1 to 65535');
  }
  return { host, port };
}

function resolveFaultProxyOptions(options: FaultProxyOptions): ResolvedFaultProxyOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'an object with a target');
  }
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') {
    throw new InvalidOptionError('host', host, 'a non-empty host name or address');
  }
  return {
    target: resolveTarget(options.target),
    host,
    port: numberOption('port', options.port, 0, { min: 0, max: 65_535, integer: true }),
    latencyMs: numberOption('latencyMs', options.latencyMs, 0, { min: 0, max: MAX_LATENCY_MS }),
    clock: options.clock ?? systemClock,
  };
}

/**
 * Starts a {@link FaultProxy} in front of `options.target` and resolves once it listens.
 * Throws `InvalidOptionError` naming the option for a bad target, host, port or latency.
 *
 * @example
 * ```ts
 * await using server = await startPostgres();
 * await using proxy = await createFaultProxy({ target: server.connectionString });
 * const pool = createPool({
 *   driver: createPgDriver({ connectionString: proxy.connectionString(server.connectionString) }),
 * });
 * await proxy.outage({ durationMs: 3_000 }); // the pool sees the database go away and return
 * ```
 */
export async function createFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const resolved = resolveFaultProxyOptions(options);
  const { clock, target } = resolved;
  const connections = new Set<ProxiedConnection>();
  let mode: FaultProxyMode = 'forwarding';
  let latencyMs = resolved.latencyMs;
  let accepted = 0;
  let refused = 0;
  let cutCount = 0;
  let outageTimer: TimerHandle | undefined;
  let outageEndsAt = 0;
  let endOutage: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  const host: ConnectionHost = {
    target,
    clock,
    latencyMs: () => latencyMs,
    closed: (connection) => connections.delete(connection),
  };

  /** Ends a running outage's timer and settles its promise; the mode is the caller's to set. */
  const settleOutage = (): void => {
    if (outageTimer !== undefined) clock.clearTimeout(outageTimer);
    outageTimer = undefined;
    const settle = endOutage;
    endOutage = undefined;
    settle?.();
  };

  const setMode = (next: FaultProxyMode): void => {
    settleOutage();
    const wasStalling = mode === 'blackhole';
    mode = next;
    if (wasStalling && next !== 'blackhole') {
      for (const connection of connections) connection.resume();
    }
  };

  const cut = (): number => {
    let count = 0;
    for (const connection of [...connections]) {
      connection.reset();
      count += 1;
    }
    cutCount += count;
    return count;
  };

  const onConnection = (socket: Socket): void => {
    if (closing !== undefined || mode === 'refusing' || mode === 'outage') {
      refused += 1;
      socket.on('error', () => {});
      socket.resetAndDestroy();
      return;
    }
    accepted += 1;
    connections.add(new ProxiedConnection(socket, host, mode === 'blackhole'));
  };

  const server: Server = createServer({ pauseOnConnect: true }, onConnection);
  server.listen(resolved.port, resolved.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error;
    }),
  ]);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : resolved.port;

  const proxy: FaultProxy = {
    host: resolved.host,
    port,
    target,
    connectionString(connectionString) {
      let url: URL;
      try {
        url = new URL(connectionString);
      } catch {
        throw new InvalidOptionError(
          'connectionString',
          '<connection string>',
          'a URL such as postgres://user@host:5432/db',
        );
      }
      url.hostname = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
      url.port = String(port);
      return url.toString();
    },
    refuse() {
      setMode('refusing');
    },
    cut,
    outage(outageOptions) {
      const durationMs = outageOptions?.durationMs;
      if (
        typeof durationMs !== 'number' ||
        !Number.isFinite(durationMs) ||
        durationMs < 0 ||
        durationMs > MAX_OUTAGE_MS
      ) {
        return Promise.reject(
          new InvalidOptionError('durationMs', durationMs, `a number from 0 to ${MAX_OUTAGE_MS}`),
        );
      }
      setMode('outage');
      cut();
      outageEndsAt = clock.now() + durationMs;
      return new Promise<void>((resolve) => {
        endOutage = resolve;
        outageTimer = clock.setTimeout(() => {
          outageTimer = undefined;
          setMode('forwarding');
        }, durationMs);
      });
    },
    blackhole(blackholeOptions = {}) {
      const existing = blackholeOptions.existing ?? false;
      if (typeof existing !== 'boolean') {
        throw new InvalidOptionError('existing', existing, 'true or false');
      }
      setMode('blackhole');
      if (existing) for (const connection of connections) connection.stall();
    },
    setLatency(next) {
      if (next === undefined) {
        throw new InvalidOptionError('latencyMs', next, `a number from 0 to ${MAX_LATENCY_MS}`);
      }
      latencyMs = numberOption('latencyMs', next, 0, { min: 0, max: MAX_LATENCY_MS });
    },
    heal() {
      setMode('forwarding');
      latencyMs = 0;
    },
    status() {
      let held = 0;
      for (const connection of connections) if (connection.held) held += 1;
      return {
        mode,
        latencyMs,
        outageRemainingMs: mode === 'outage' ? Math.max(0, outageEndsAt - clock.now()) : undefined,
        open: connections.size,
        held,
        accepted,
        refused,
        cut: cutCount,
      };
    },
    close() {
      closing ??= (async () => {
        settleOutage();
        const closed = once(server, 'close');
        server.close();
        for (const connection of [...connections]) connection.reset();
        await closed;
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return proxy.close();
    },
  };
  return proxy;
}
