import {
  type Driver,
  type DriverCallOptions,
  type ErrorReason,
  type LogContext,
  type Logger,
  ValidationError,
} from '@enhanced-pool/core';
import { errorMessage } from './driver-calls.js';
import type { PoolCounters } from './pool-counters.js';
import type { DestroyReason } from './pool-events.js';
import { type ConnectionRecord, RELEASING } from './pooled-connection.js';

/** What release work calls back into; the pool implements it. */
export interface ReleaseWorkHost<TConnection> {
  isOpen(): boolean;
  readClock(): number;
  classify(error: unknown): ErrorReason;
  returnRecord(record: ConnectionRecord<TConnection>, now: number): void;
  discard(record: ConnectionRecord<TConnection>, reason: DestroyReason, error?: unknown): void;
  /** A connection failed its validation on release: the idle ones may be dead too. */
  suspectIdle(cause: ConnectionRecord<TConnection>): void;
}

export interface ReleaseWorkOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly validateOnRelease: boolean;
  /** Bounded only by the pool's life: close() aborts them. */
  readonly callOptions: DriverCallOptions;
  readonly counters: PoolCounters;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
}

/**
 * The work between a release and the connection's next use, off the hot path: the driver's
 * `reset()` (session state of the last borrower must not leak to the next), then, with
 * `validateOnRelease`, a validation. Only a pool whose driver has `reset()` or that validates on
 * release pays for it; the others return connections synchronously.
 */
export class ReleaseWork<TConnection> {
  /** Whether a release needs this at all, decided once. */
  readonly needed: boolean;

  constructor(
    private readonly options: ReleaseWorkOptions<TConnection>,
    private readonly host: ReleaseWorkHost<TConnection>,
  ) {
    this.needed = typeof options.driver.reset === 'function' || options.validateOnRelease;
  }

  /** Runs reset (and validation on release), then returns or discards the connection. */
  async run(record: ConnectionRecord<TConnection>): Promise<void> {
    const { driver, callOptions, validateOnRelease } = this.options;
    let failure: DestroyReason | undefined;
    let cause: unknown;
    let validated = false;
    try {
      if (driver.reset !== undefined) await driver.reset(record.connection, callOptions);
    } catch (error) {
      failure = 'reset-failed';
      cause = error;
    }
    if (failure === undefined && validateOnRelease) {
      try {
        await driver.validate(record.connection, callOptions);
        validated = true;
      } catch (error) {
        failure = 'validation-failed';
        cause = new ValidationError(this.host.classify(error), error);
      }
    }
    if (record.state !== RELEASING) return;
    if (failure === undefined) {
      const now = this.host.readClock();
      if (validated) record.lastValidatedAt = now;
      this.host.returnRecord(record, now);
      return;
    }
    const open = this.host.isOpen();
    if (open) {
      const { counters, logger, logContext, name } = this.options;
      counters.errors++;
      if (failure === 'reset-failed') counters.resetFailures++;
      else {
        counters.validationFailures++;
        this.host.suspectIdle(record);
      }
      logger.warn(`Pool "${name}": connection ${record.id} ${failure} on release`, {
        ...logContext,
        error: errorMessage(cause),
      });
    }
    this.host.discard(record, open ? failure : 'close', cause);
  }
}
