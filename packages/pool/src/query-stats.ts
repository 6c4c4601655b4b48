/** `pool.query()`'s own figures, part of `getStats()`. */
export interface QueryStats {
  /** Statements sent and not yet answered (gauge). */
  readonly inFlight: number;
  /** Statements waiting for room on a shared connection (gauge). */
  readonly queued: number;
  /** Connections the pool holds for `pool.query()` now (gauge; part of `activeConnections`). */
  readonly sharedConnections: number;
  /** Statements answered with a result. */
  readonly succeeded: number;
  /** Statements the driver answered with an error (after the one retry of idempotent ones). */
  readonly failed: number;
  /** Statements refused before sending (`StatementRefusedError`). */
  readonly refused: number;
  /** Statements given up through their signal, queued or after sending. */
  readonly aborted: number;
  /** Of `aborted`, those already sent, whose result was dropped. */
  readonly dropped: number;
  /** Statements that waited `acquireTimeoutMs` for room and got `AcquireTimeoutError`. */
  readonly timeouts: number;
  /** Statements refused at once because `maxWaiting` were already waiting. */
  readonly exhausted: number;
  /** Idempotent statements sent again after their connection died. */
  readonly retries: number;
}
