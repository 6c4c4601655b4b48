import type { Clock, Driver, LogContext, Logger, TimerHandle } from '@enhanced-pool/core';
import { callDriver, errorMessage } from './driver-calls.js';
import type { DestroyReason } from './pool-events.js';
import type { ConnectionRecord } from './pooled-connection.js';
import { timerDelay } from './timer-delay.js';

/** What the close protocol reads from and calls back into; the pool implements it. */
export interface CloseHost<TConnection> {
  readonly size: number;
  readonly records: ReadonlyMap<TConnection, ConnectionRecord<TConnection>>;
  connectsInFlight(): number;
  discard(record: ConnectionRecord<TConnection>, reason: DestroyReason): void;
  /** Everything is closed (`forced` connections were closed under their holders). */
  finished(forced: number): void;
}

export interface CloseProtocolOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
}

/**
 * How the pool ends, so that `close()` always finishes: every `driver.close()` is tracked until
 * it settles (a failure is logged, never thrown), the pool is done once no connection, connect
 * or close is left, and at the deadline whatever is still leased is closed under its holder.
 */
export class CloseProtocol<TConnection> {
  closing = false;
  private done = false;
  private pendingCloses = 0;
  private timer: TimerHandle | undefined = undefined;

  constructor(
    private readonly options: CloseProtocolOptions<TConnection>,
    private readonly host: CloseHost<TConnection>,
  ) {}

  /** Closes a physical connection the pool no longer holds. */
  closeConnection(connection: TConnection): void {
    this.pendingCloses++;
    const { driver } = this.options;
    callDriver(() => driver.close(connection)).then(this.onClosed, this.onCloseFailed);
  }

  /** Starts the close deadline, after the pool let go of everything it could. */
  begin(timeoutMs: number): void {
    this.closing = true;
    this.check();
    if (this.done) return;
    if (timeoutMs === 0) this.forceClose();
    else this.timer = this.options.clock.setTimeout(this.forceClose, timerDelay(timeoutMs));
  }

  /** Finishes the close if nothing is left. Called whenever a connection, connect or close ends. */
  check(): void {
    if (
      this.closing &&
      this.host.size === 0 &&
      this.host.connectsInFlight() === 0 &&
      this.pendingCloses === 0
    ) {
      this.finish(0);
    }
  }

  private readonly onClosed = (): void => {
    this.pendingCloses--;
    this.check();
  };

  private readonly onCloseFailed = (error: unknown): void => {
    this.options.logger.warn(`Pool "${this.options.name}": closing a connection failed`, {
      ...this.options.logContext,
      error: errorMessage(error),
    });
    this.onClosed();
  };

  /** The close deadline: whatever is still leased is closed under its holder. */
  private readonly forceClose = (): void => {
    this.timer = undefined;
    if (this.done) return;
    const leftovers = [...this.host.records.values()];
    if (leftovers.length > 0) {
      this.options.logger.warn(
        `Pool "${this.options.name}": close timed out with ${leftovers.length} connection(s) ` +
          'still in use; closing them anyway',
        this.options.logContext,
      );
    }
    for (const record of leftovers) this.host.discard(record, 'close');
    this.finish(leftovers.length);
  };

  private finish(forced: number): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) {
      this.options.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.host.finished(forced);
  }
}
