import type { Clock } from '@enhanced-pool/core';
import type { FakeConnection, FakeDriver } from '@enhanced-pool/testing';
import type {
  CheckoutForCheck,
  HealthCheckDestroyReason,
  HealthCheckPoolStats,
  HealthCheckTarget,
  IdleConnectionInfo,
} from '../src/index.js';

interface Entry {
  readonly connection: FakeConnection;
  readonly createdAt: number;
  lastUsedAt: number;
  lastValidatedAt: number;
  expiresAt: number;
  state: 'idle' | 'lent' | 'checking' | 'gone';
}

/**
 * An array-backed pool model implementing {@link HealthCheckTarget} over the fake driver: just
 * enough pool to test the checker against, with the bookkeeping a real pool must get right
 * (a checked-out connection can't be lent, each checkout is settled exactly once, every destroyed
 * connection is closed on the driver).
 */
export class FakePoolTarget implements HealthCheckTarget<FakeConnection> {
  readonly destroyed: { id: number; reason: HealthCheckDestroyReason }[] = [];
  /** Every `checkoutIdle` call's limit, to assert how runs bound themselves. */
  readonly checkoutLimits: number[] = [];
  breaker: string | undefined = 'closed';
  /** When set, `fillToMinimum` rejects with this instead of connecting. */
  fillError: Error | undefined;
  private readonly entries: Entry[] = [];

  constructor(
    readonly driver: FakeDriver,
    private readonly clock: Clock,
    readonly minSize: number,
    readonly maxSize: number,
    private readonly maxLifetimeMs = Infinity,
  ) {}

  /** Opens `count` idle connections directly (the pool's warm-up). */
  async warm(count: number): Promise<void> {
    for (let index = 0; index < count; index += 1) await this.open();
  }

  entryOf(connection: FakeConnection): Entry {
    const entry = this.entries.find((candidate) => candidate.connection === connection);
    if (!entry) throw new Error(`connection ${connection.id} is not in the pool`);
    return entry;
  }

  idleConnections(): FakeConnection[] {
    return this.entries.filter((entry) => entry.state === 'idle').map((entry) => entry.connection);
  }

  /** A borrower takes the first idle connection (never one being checked). */
  lend(): FakeConnection {
    const entry = this.entries.find((candidate) => candidate.state === 'idle');
    if (!entry) throw new Error('no idle connection');
    entry.state = 'lent';
    return entry.connection;
  }

  giveBack(connection: FakeConnection): void {
    const entry = this.entryOf(connection);
    entry.state = 'idle';
    entry.lastUsedAt = this.clock.now();
  }

  checkoutIdle(
    select: (info: IdleConnectionInfo, connection: FakeConnection) => boolean,
    limit: number,
  ): CheckoutForCheck<FakeConnection>[] {
    this.checkoutLimits.push(limit);
    const chosen = this.entries
      .filter((entry) => entry.state === 'idle')
      .sort((left, right) => left.lastValidatedAt - right.lastValidatedAt)
      .filter((entry) => select(this.infoOf(entry), entry.connection))
      .slice(0, limit);
    return chosen.map((entry) => {
      entry.state = 'checking';
      let settled = false;
      const settle = (): void => {
        if (settled) throw new Error(`checkout of connection ${entry.connection.id} settled twice`);
        settled = true;
      };
      return {
        connection: entry.connection,
        info: this.infoOf(entry),
        returnToIdle: (options?: { validated?: boolean }) => {
          settle();
          entry.state = 'idle';
          if (options?.validated) entry.lastValidatedAt = this.clock.now();
        },
        destroy: (reason: HealthCheckDestroyReason) => {
          settle();
          entry.state = 'gone';
          this.entries.splice(this.entries.indexOf(entry), 1);
          this.destroyed.push({ id: entry.connection.id, reason });
          void this.driver.close(entry.connection);
        },
      };
    });
  }

  async fillToMinimum({ signal }: { signal: AbortSignal }): Promise<number> {
    let created = 0;
    while (this.entries.length < this.minSize) {
      if (this.fillError) throw this.fillError;
      await this.open(signal);
      created += 1;
    }
    return created;
  }

  stats(): HealthCheckPoolStats {
    const count = (state: Entry['state']) =>
      this.entries.filter((entry) => entry.state === state).length;
    return {
      size: this.entries.length,
      minSize: this.minSize,
      maxSize: this.maxSize,
      idle: count('idle'),
      active: count('lent'),
      pending: 0,
    };
  }

  breakerState(): string {
    return this.breaker ?? 'closed';
  }

  /** Connections in a health check right now. */
  checking(): number {
    return this.entries.filter((entry) => entry.state === 'checking').length;
  }

  private infoOf(entry: Entry): IdleConnectionInfo {
    return {
      id: entry.connection.id,
      createdAt: entry.createdAt,
      lastUsedAt: entry.lastUsedAt,
      lastValidatedAt: entry.lastValidatedAt,
      expiresAt: entry.expiresAt,
    };
  }

  private async open(signal = new AbortController().signal): Promise<void> {
    const connection = await this.driver.connect({ signal });
    const now = this.clock.now();
    this.entries.push({
      connection,
      createdAt: now,
      lastUsedAt: now,
      lastValidatedAt: now,
      expiresAt: now + this.maxLifetimeMs,
      state: 'idle',
    });
  }
}
