import type { CircuitState } from '@enhanced-pool/circuit-breaker';
import type { Driver } from '@enhanced-pool/core';
import { PoolClosedError } from '@enhanced-pool/core';
import type {
  CheckoutForCheck,
  HealthCheckDestroyReason,
  HealthCheckTarget,
  IdleConnectionInfo,
} from '@enhanced-pool/health-checker';
import type { ConnectGate } from './connect-gate.js';
import type { Connector } from './connector.js';
import type { IdleList } from './idle-list.js';
import type { PoolCounters, PoolGauges } from './pool-counters.js';
import type { DestroyReason } from './pool-events.js';
import { type ConnectionRecord, MAINTAINED, RELEASING } from './pooled-connection.js';
import type { ReadyWaiters } from './ready-waiters.js';

const HEALTH_DESTROY_REASONS: Readonly<Record<HealthCheckDestroyReason, DestroyReason>> = {
  broken: 'broken',
  'validation-failed': 'validation-failed',
  expired: 'lifetime',
  'keepalive-failed': 'keepalive-failed',
};

/** What the health target reads from and calls back into; the pool implements it. */
export interface HealthTargetHost<TConnection> {
  readonly size: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly idle: IdleList<TConnection>;
  readonly counters: PoolCounters;
  isOpen(): boolean;
  readClock(): number;
  gauges(): PoolGauges;
  returnRecord(record: ConnectionRecord<TConnection>, now: number, fromHealthCheck: boolean): void;
  discard(record: ConnectionRecord<TConnection>, reason: DestroyReason): void;
  suspectIdle(cause: ConnectionRecord<TConnection>): void;
}

/** The modules the health target asks to fill the pool. */
export interface HealthTargetParts<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly breaker: { getState(): CircuitState } | undefined;
  readonly connector: Pick<
    Connector<TConnection>,
    'ensureMinimum' | 'connecting' | 'lastConnectError'
  >;
  readonly gate: Pick<ConnectGate, 'refuses' | 'refusalError'>;
  readonly readyWaiters: Pick<ReadyWaiters, 'wait'>;
  readonly name: string;
}

/**
 * The seam between the pool and `@enhanced-pool/health-checker`: the checker sees idle
 * connections only through checkouts (taken out of circulation, so no borrower gets one
 * mid-check, and settled exactly once), and never touches the pool otherwise.
 */
export class PoolHealthTarget<TConnection> implements HealthCheckTarget<TConnection> {
  /** Connections the checker holds now (part of the active gauge). */
  checkedOut = 0;
  readonly driver: Driver<TConnection>;
  readonly breakerState: (() => CircuitState) | undefined;
  /** `minSize` was reached once: later connects to keep it are replacements. */
  private reachedMinimum = false;
  /** Replacements since the last fill (the report's `replaced`). */
  private minimumRefills = 0;

  constructor(
    private readonly parts: HealthTargetParts<TConnection>,
    private readonly host: HealthTargetHost<TConnection>,
  ) {
    this.driver = parts.driver;
    const { breaker } = parts;
    this.breakerState = breaker === undefined ? undefined : () => breaker.getState();
  }

  /** A connection joined the pool; `forMinimum`: it was opened to keep `minSize`. */
  noteCreated(forMinimum: boolean, minimumMet: boolean): void {
    if (forMinimum && this.reachedMinimum) this.minimumRefills++;
    if (minimumMet) this.reachedMinimum = true;
  }

  stats() {
    const { size, idle, active, pending } = this.host.gauges();
    return { size, minSize: this.host.minSize, maxSize: this.host.maxSize, idle, active, pending };
  }

  /**
   * Opens connections up to `minSize` through the creation policy (so the breaker, the backoff
   * and the fatal-error hold apply) and resolves with how many the pool opened to keep it since
   * the last fill. Rejects at once when no connect may start, or with the error of one that fails.
   */
  async fillToMinimum(options: { readonly signal: AbortSignal }): Promise<number> {
    const { host } = this;
    if (!host.isOpen()) return 0;
    const { connector, gate, readyWaiters, name } = this.parts;
    connector.ensureMinimum();
    if (host.size < host.minSize) {
      if (connector.connecting === 0) {
        if (gate.refuses()) throw gate.refusalError(connector.lastConnectError);
        throw connector.lastConnectError ?? new PoolClosedError({ poolName: name });
      }
      await readyWaiters.wait(options.signal);
    }
    // The pool replaces what it closes on its own; the report counts those replacements too.
    const replaced = this.minimumRefills;
    this.minimumRefills = 0;
    return replaced;
  }

  /**
   * Takes the idle connections `select` accepts out of circulation, least recently validated
   * first, at most `limit`.
   */
  checkoutIdle(
    select: (info: IdleConnectionInfo, connection: TConnection) => boolean,
    limit: number,
  ): CheckoutForCheck<TConnection>[] {
    if (!this.host.isOpen() || limit <= 0) return [];
    const chosen: { record: ConnectionRecord<TConnection>; info: IdleConnectionInfo }[] = [];
    for (let record = this.host.idle.oldest; record !== undefined; record = record.newer) {
      const info: IdleConnectionInfo = {
        id: record.id,
        createdAt: record.createdAt,
        lastUsedAt: record.lastUsedAt,
        lastValidatedAt: record.lastValidatedAt,
        expiresAt: record.expiresAt,
      };
      if (select(info, record.connection)) chosen.push({ record, info });
    }
    chosen.sort((left, right) => left.info.lastValidatedAt - right.info.lastValidatedAt);
    if (chosen.length > limit) chosen.length = limit;
    return chosen.map(({ record, info }) => {
      this.host.idle.unlink(record);
      record.state = MAINTAINED;
      this.checkedOut++;
      return new HealthCheckout(this, record, info);
    });
  }

  /** The pool discards a connection the checker holds (closing, forced). */
  forget(): void {
    this.checkedOut--;
  }

  /** A checked connection goes back: to the first waiter, else to idle. */
  returnChecked(record: ConnectionRecord<TConnection>, validated: boolean): void {
    if (record.state !== MAINTAINED) return;
    this.checkedOut--;
    // In transit, like a release: returnRecord may still close it (expired, broken, closing).
    record.state = RELEASING;
    const now = this.host.readClock();
    if (validated) {
      record.lastValidatedAt = now;
      record.idleSince = now;
    }
    this.host.returnRecord(record, now, true);
  }

  /** The checker found it broken, expired or unresponsive. */
  destroyChecked(record: ConnectionRecord<TConnection>, reason: HealthCheckDestroyReason): void {
    if (record.state !== MAINTAINED) return;
    const mapped = HEALTH_DESTROY_REASONS[reason];
    const open = this.host.isOpen();
    if (open && mapped !== 'lifetime') {
      if (mapped !== 'broken') {
        this.host.counters.validationFailures++;
        this.host.counters.errors++;
      }
      this.host.suspectIdle(record);
    }
    this.host.discard(record, open ? mapped : 'close');
  }
}

/** An idle connection lent to the health checker; settled exactly once. */
class HealthCheckout<TConnection> implements CheckoutForCheck<TConnection> {
  private settled = false;

  constructor(
    private readonly target: PoolHealthTarget<TConnection>,
    private readonly record: ConnectionRecord<TConnection>,
    readonly info: IdleConnectionInfo,
  ) {}

  get connection(): TConnection {
    return this.record.connection;
  }

  returnToIdle(options?: { readonly validated?: boolean }): void {
    if (this.settled) return;
    this.settled = true;
    this.target.returnChecked(this.record, options?.validated === true);
  }

  destroy(reason: HealthCheckDestroyReason): void {
    if (this.settled) return;
    this.settled = true;
    this.target.destroyChecked(this.record, reason);
  }
}
