import {
  ERROR_REASONS,
  type ErrorReason,
  InvalidOptionError,
  redactSecrets,
  type TimerHandle,
  TypedEmitter,
  type TypedEvents,
  unrefTimer,
} from '@enhanced-pool/core';
import type {
  CheckoutForCheck,
  HealthCheckTarget,
  IdleConnectionInfo,
} from './health-check-target.js';
import {
  type HealthCheckerOptions,
  type ResolvedHealthCheckerOptions,
  resolveHealthCheckerOptions,
} from './health-checker-options.js';
import type { HealthCheckFailure, HealthCheckStep, HealthReport } from './health-report.js';

/** Events a {@link HealthChecker} emits. `report`: after every run, scheduled or on demand. */
export type HealthCheckerEvents = {
  report: HealthReport;
};

/**
 * Keeps a pool healthy in the background: validates idle connections on a schedule, destroys the
 * broken and the expired, pings idle ones so middleboxes don't drop them, and tops the pool back
 * up to `minSize`. One run at a time; `runNow()` joins a run in progress.
 */
export interface HealthChecker extends TypedEvents<HealthCheckerEvents> {
  readonly options: ResolvedHealthCheckerOptions;
  /** Whether the schedule is armed (between `start()` and `stop()`). */
  readonly started: boolean;
  /**
   * Arms one unref'd timer; each run re-arms it when it ends, so runs never overlap however
   * slow a run is. Idempotent.
   */
  start(): void;
  /**
   * Disarms the timer and cuts a run in progress short (pending validations are aborted and
   * their connections returned to idle, unvalidated). Resolves once no run is in progress and no
   * timer is left. Idempotent; `start()` may be called again.
   */
  stop(): Promise<void>;
  /**
   * Runs a check now, or joins the run in progress (the same promise). Never rejects because of
   * the pool or the database: failures are in the report. `signal` abandons the wait (rejecting
   * with its reason), not the run, which other callers may share.
   */
  runNow(options?: { readonly signal?: AbortSignal }): Promise<HealthReport>;
  /** The report of the last finished run, if any. */
  lastReport(): HealthReport | undefined;
}

type CheckKind = 'validation' | 'keepalive';

interface RunTally {
  checked: number;
  keepalives: number;
  failed: number;
  broken: number;
  expired: number;
  replaced: number;
  lastError: HealthCheckFailure | undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return 'non-error value thrown';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as it aborts, whichever
 * comes first. The listener is removed either way, so a long-lived signal collects none.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function validateTarget(target: unknown): void {
  const value = target as Partial<HealthCheckTarget<unknown>> | null | undefined;
  const ok =
    typeof value === 'object' &&
    value !== null &&
    typeof value.checkoutIdle === 'function' &&
    typeof value.fillToMinimum === 'function' &&
    typeof value.stats === 'function' &&
    typeof value.driver === 'object' &&
    value.driver !== null &&
    typeof value.driver.validate === 'function' &&
    typeof value.driver.classifyError === 'function';
  if (!ok) {
    throw new InvalidOptionError(
      'target',
      target,
      'a HealthCheckTarget (driver, checkoutIdle(), fillToMinimum(), stats())',
    );
  }
}

/**
 * Creates a health checker for a pool (anything implementing {@link HealthCheckTarget}).
 *
 * A run does, in order:
 * 1. destroys idle connections past `expiresAt` (`expired`) or that the driver knows are dead
 *    (`isBroken`, no round trip);
 * 2. validates, with a `validationTimeoutMs` deadline, the idle connections not validated within
 *    `validationIntervalMs`, and pings those silent for `keepaliveMs`: at most
 *    `maxValidationsPerRun` and half the idle ones, least recently validated first. Passing ones
 *    go back to idle, failing ones are destroyed;
 * 3. asks the pool to fill back up to `minSize`;
 * 4. reports, logs and emits `report`.
 *
 * `@enhanced-pool/pool` builds one from its own options (`healthCheckIntervalMs`, `keepaliveMs`,
 * …); use this directly only for a pool of your own that implements {@link HealthCheckTarget}.
 *
 * @example
 * const checker = createHealthChecker(myPoolTarget, { keepaliveMs: 240_000 });
 * checker.on('report', (report) => report.healthy || console.warn(report.reasons));
 * checker.start();
 */
export function createHealthChecker<TConnection>(
  target: HealthCheckTarget<TConnection>,
  options: HealthCheckerOptions = {},
): HealthChecker {
  validateTarget(target);
  const resolved = resolveHealthCheckerOptions(options);
  const { clock, logger, validationIntervalMs, keepaliveMs, validationTimeoutMs } = resolved;
  const emitter = new TypedEmitter<HealthCheckerEvents>();
  const runEvery =
    keepaliveMs > 0
      ? Math.min(resolved.healthCheckIntervalMs, keepaliveMs / 2)
      : resolved.healthCheckIntervalMs;

  let started = false;
  let timer: TimerHandle | undefined;
  let current: Promise<HealthReport> | undefined;
  let currentController: AbortController | undefined;
  let last: HealthReport | undefined;

  const classify = (error: unknown): ErrorReason => {
    try {
      return target.driver.classifyError(error);
    } catch {
      return 'unknown';
    }
  };

  const failure = (
    error: unknown,
    during: HealthCheckStep,
    reason: ErrorReason,
    connectionId?: string | number,
  ): HealthCheckFailure => ({
    message: redactSecrets(messageOf(error)),
    reason,
    during,
    ...(connectionId === undefined ? {} : { connectionId }),
  });

  const kindOf = (info: IdleConnectionInfo, now: number): CheckKind | undefined => {
    if (now - info.lastValidatedAt >= validationIntervalMs) return 'validation';
    if (keepaliveMs > 0 && now - Math.max(info.lastUsedAt, info.lastValidatedAt) >= keepaliveMs) {
      return 'keepalive';
    }
    return undefined;
  };

  /** Validates one checked-out connection and hands it back or destroys it. */
  const check = async (
    item: CheckoutForCheck<TConnection>,
    kind: CheckKind,
    runSignal: AbortSignal,
    tally: RunTally,
  ): Promise<void> => {
    const controller = new AbortController();
    let timedOut = false;
    const onRunAbort = (): void => controller.abort(abortReason(runSignal));
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    if (runSignal.aborted) onRunAbort();
    const deadline = clock.setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`${kind} timed out after ${validationTimeoutMs} ms`));
    }, validationTimeoutMs);
    unrefTimer(deadline);
    tally.checked += 1;
    if (kind === 'keepalive') tally.keepalives += 1;
    let failedWith: { error: unknown } | undefined;
    try {
      // Settles at the deadline even if the driver ignores its signal.
      await untilAborted(
        Promise.resolve().then(() =>
          target.driver.validate(item.connection, { signal: controller.signal }),
        ),
        controller.signal,
      );
    } catch (error) {
      failedWith = { error };
    } finally {
      clock.clearTimeout(deadline);
      runSignal.removeEventListener('abort', onRunAbort);
    }
    if (!failedWith) {
      item.returnToIdle({ validated: true });
    } else if (runSignal.aborted && !timedOut) {
      // Stopped, not failed: the connection may well be fine, so it goes back unvalidated.
      item.returnToIdle();
    } else {
      item.destroy(kind === 'keepalive' ? 'keepalive-failed' : 'validation-failed');
      tally.failed += 1;
      const { error } = failedWith;
      tally.lastError = failure(error, kind, timedOut ? 'timeout' : classify(error), item.info.id);
    }
  };

  const execute = async (controller: AbortController): Promise<HealthReport> => {
    const { signal } = controller;
    const startedAt = clock.now();
    const tally: RunTally = {
      checked: 0,
      keepalives: 0,
      failed: 0,
      broken: 0,
      expired: 0,
      replaced: 0,
      lastError: undefined,
    };
    const reasons: string[] = [];
    try {
      const sweepAt = clock.now();
      const isBroken = target.driver.isBroken;
      const doomed = target.checkoutIdle(
        (info, connection) =>
          info.expiresAt <= sweepAt || isBroken?.call(target.driver, connection) === true,
        Infinity,
      );
      for (const item of doomed) {
        if (item.info.expiresAt <= sweepAt) {
          item.destroy('expired');
          tally.expired += 1;
        } else {
          item.destroy('broken');
          tally.broken += 1;
        }
      }

      if (!signal.aborted && (Number.isFinite(validationIntervalMs) || keepaliveMs > 0)) {
        const idle = target.stats().idle;
        const limit = Math.min(resolved.maxValidationsPerRun, Math.max(1, Math.floor(idle / 2)));
        const checkAt = clock.now();
        const due = target.checkoutIdle((info) => kindOf(info, checkAt) !== undefined, limit);
        // allSettled: every checked-out connection is settled before the run goes on, even if
        // the pool throws while taking one back.
        const outcomes = await Promise.allSettled(
          due.map((item) => check(item, kindOf(item.info, checkAt) ?? 'validation', signal, tally)),
        );
        const broke = outcomes.find((outcome) => outcome.status === 'rejected');
        if (broke) {
          tally.lastError = failure(broke.reason, 'run', reasonOf(broke.reason));
          reasons.push(`health check failed: ${tally.lastError.message}`);
        }
      }

      if (!signal.aborted) {
        try {
          tally.replaced = await target.fillToMinimum({ signal });
        } catch (error) {
          if (!signal.aborted) {
            const lastError = failure(error, 'fill', reasonOf(error));
            tally.lastError = lastError;
            reasons.push(`could not open connections up to minSize: ${lastError.message}`);
          }
        }
      }
    } catch (error) {
      // The target broke its contract (threw from checkoutIdle or stats): report, don't crash.
      tally.lastError = failure(error, 'run', reasonOf(error));
      reasons.push(`health check failed: ${tally.lastError.message}`);
    }

    let stats = { size: 0, minSize: 0 };
    let breakerState: string | undefined;
    try {
      stats = target.stats();
      breakerState = target.breakerState?.();
    } catch (error) {
      reasons.push(`could not read pool stats: ${redactSecrets(messageOf(error))}`);
    }
    if (stats.size < stats.minSize) {
      reasons.unshift(`pool holds ${stats.size} of minSize ${stats.minSize} connections`);
    }
    if (breakerState === 'open' || breakerState === 'isolated') {
      reasons.unshift(`connection breaker is ${breakerState}`);
    }
    if (signal.aborted) reasons.push('stopped before the run finished');

    const report: HealthReport = Object.freeze({
      healthy: reasons.length === 0,
      reasons: Object.freeze(reasons),
      startedAt,
      durationMs: clock.now() - startedAt,
      checked: tally.checked,
      keepalives: tally.keepalives,
      failed: tally.failed,
      broken: tally.broken,
      expired: tally.expired,
      replaced: tally.replaced,
      breakerState,
      size: stats.size,
      minSize: stats.minSize,
      lastError: tally.lastError,
    });
    const context = {
      checked: report.checked,
      keepalives: report.keepalives,
      failed: report.failed,
      broken: report.broken,
      expired: report.expired,
      replaced: report.replaced,
      size: report.size,
      minSize: report.minSize,
      breakerState: report.breakerState,
      durationMs: report.durationMs,
      ...(report.lastError ? { lastError: report.lastError } : {}),
    };
    try {
      if (report.healthy) logger.debug('health check: healthy', context);
      else logger.warn(`health check: unhealthy (${report.reasons.join('; ')})`, context);
    } catch {
      // A broken logger must not wedge the checker (the run promise would never settle).
    }
    return report;
  };

  function reasonOf(error: unknown): ErrorReason {
    const reason = (error as { reason?: unknown } | null)?.reason;
    return ERROR_REASONS.includes(reason as ErrorReason)
      ? (reason as ErrorReason)
      : classify(error);
  }

  const runShared = (): Promise<HealthReport> => {
    if (current) return current;
    const controller = new AbortController();
    currentController = controller;
    current = execute(controller).then((report) => {
      current = undefined;
      currentController = undefined;
      last = report;
      emitter.emit('report', report);
      return report;
    });
    return current;
  };

  const arm = (): void => {
    if (!started || timer !== undefined || !Number.isFinite(runEvery)) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      void runShared().then(arm);
    }, runEvery);
    unrefTimer(timer);
  };

  return {
    options: resolved,
    get started() {
      return started;
    },
    on: (event, listener) => emitter.on(event, listener),
    start(): void {
      if (started) return;
      started = true;
      arm();
    },
    async stop(): Promise<void> {
      started = false;
      if (timer !== undefined) {
        clock.clearTimeout(timer);
        timer = undefined;
      }
      const running = current;
      currentController?.abort(new Error('health checker stopped'));
      if (running) await running;
    },
    runNow(runOptions: { readonly signal?: AbortSignal } = {}): Promise<HealthReport> {
      const { signal } = runOptions;
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      const run = runShared();
      if (!signal) return run;
      return untilAborted(run, signal);
    },
    lastReport: () => last,
  };
}
