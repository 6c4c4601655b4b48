import {
  type Clock,
  EnhancedPoolError,
  InvalidOptionError,
  numberOption,
  systemClock,
  unrefTimer,
} from '@enhanced-pool/core';

/** Options of {@link createLoadGenerator}. */
export interface LoadGeneratorOptions {
  /**
   * One unit of work, e.g. a query through `pool.withConnection(…, { signal })`. Workers call it
   * back to back. The signal aborts when the worker is told to stop, so a caller still queued
   * in the pool leaves at once; a rejection after that abort is not counted as an error.
   */
  readonly operation: (signal: AbortSignal) => Promise<unknown>;
  /**
   * Names a failure for counting, e.g. by its SQLSTATE.
   * @default errorCode
   */
  readonly classify?: (error: unknown) => string;
  /**
   * Most workers `setWorkers()` accepts.
   * @default 64
   */
  readonly maxWorkers?: number;
  /**
   * The sliding window for rates and latency percentiles.
   * @default 5_000
   */
  readonly windowMs?: number;
  /**
   * Granularity of the window: counts are kept per bucket of this length, so the window slides
   * in steps of it. Must divide `windowMs`.
   * @default 250
   */
  readonly bucketMs?: number;
  /**
   * Most latency samples kept per bucket; beyond it, samples are replaced at random (reservoir
   * sampling), so percentiles stay unbiased while memory stays bounded at any rate.
   * @default 5_000
   */
  readonly maxSamplesPerBucket?: number;
  /**
   * How long a worker pauses after a failed operation before its next one. A pool that fails
   * fast (an open breaker) would otherwise turn every worker into a busy loop.
   * @default 100
   */
  readonly errorPauseMs?: number;
  /**
   * Time source for latencies, windows and pauses.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * For reservoir sampling.
   * @default Math.random
   */
  readonly random?: () => number;
}

/** Counts and latencies over the sliding window. */
export interface LoadWindow {
  /** The span the figures cover: `windowMs`, or less while the generator is younger. */
  readonly spanMs: number;
  readonly ok: number;
  readonly errors: number;
  readonly okPerSecond: number;
  readonly errorsPerSecond: number;
  /** Latency percentiles of successful operations, `null` when there were none. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly errorsByCode: Readonly<Record<string, number>>;
}

/** What the generator is doing and has done. */
export interface LoadStatus {
  /** Workers asked for. */
  readonly workers: number;
  /** Worker loops still running (more than `workers` for a moment while some stop). */
  readonly running: number;
  readonly maxWorkers: number;
  /** Successful operations since the generator was created. */
  readonly ok: number;
  /** Failed operations since the generator was created. */
  readonly errors: number;
  /** `errors` split by code (the `classify` option, {@link errorCode} by default). */
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly window: LoadWindow;
}

/**
 * N concurrent workers running an operation back to back, counting successes, errors by code
 * and latency over a sliding window: the traffic that makes the pool's behaviour under faults
 * visible on the dashboard.
 */
export interface LoadGenerator {
  /**
   * Starts or stops workers until `workers` run. Throws `InvalidOptionError` (option `workers`)
   * for anything but an integer from 0 to `maxWorkers`.
   */
  setWorkers(workers: number): void;
  status(): LoadStatus;
  /** Stops every worker and resolves once each has finished its operation in flight. */
  stop(): Promise<void>;
}

/**
 * A stable, short name for what went wrong, for counting: the enhanced-pool code (with the
 * driver's reason for `CONNECT_FAILED`, e.g. `CONNECT_FAILED/connection`), else a string `code`
 * (a SQLSTATE such as `57P01`, or a Node errno such as `ECONNREFUSED`), else the error's name.
 */
export function errorCode(error: unknown): string {
  if (EnhancedPoolError.isInstance(error)) {
    const reason = (error as { reason?: unknown }).reason;
    return typeof reason === 'string' ? `${error.code}/${reason}` : error.code;
  }
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0) return name;
  }
  return 'unknown';
}

interface Bucket {
  /** Start of the bucket's span on the clock, or -Infinity when unused. */
  start: number;
  ok: number;
  errors: number;
  errorsByCode: Map<string, number>;
  latencies: number[];
  /** Successful operations seen by this bucket, including samples not kept. */
  seen: number;
}

interface Worker {
  readonly controller: AbortController;
  done: Promise<void>;
}

/** Creates a {@link LoadGenerator}. No worker runs until `setWorkers()`. */
export function createLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  if (typeof options?.operation !== 'function') {
    throw new InvalidOptionError('operation', options?.operation, 'a function');
  }
  const { operation } = options;
  const classify = options.classify ?? errorCode;
  const maxWorkers = numberOption('maxWorkers', options.maxWorkers, 64, {
    min: 1,
    max: 10_000,
    integer: true,
  });
  const windowMs = numberOption('windowMs', options.windowMs, 5_000, {
    min: 1,
    max: 3_600_000,
    integer: true,
  });
  const bucketMs = numberOption('bucketMs', options.bucketMs, 250, {
    min: 1,
    max: windowMs,
    integer: true,
  });
  if (windowMs % bucketMs !== 0) {
    throw new InvalidOptionError('bucketMs', bucketMs, `a divisor of windowMs (${windowMs})`);
  }
  const maxSamplesPerBucket = numberOption(
    'maxSamplesPerBucket',
    options.maxSamplesPerBucket,
    5_000,
    { min: 1, integer: true },
  );
  const errorPauseMs = numberOption('errorPauseMs', options.errorPauseMs, 100, {
    min: 0,
    max: 60_000,
  });
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;

  const createdAt = clock.now();
  const buckets: Bucket[] = Array.from({ length: windowMs / bucketMs }, () => ({
    start: Number.NEGATIVE_INFINITY,
    ok: 0,
    errors: 0,
    errorsByCode: new Map(),
    latencies: [],
    seen: 0,
  }));
  const workers: Worker[] = [];
  const stopping = new Set<Worker>();
  let totalOk = 0;
  let totalErrors = 0;
  const totalErrorsByCode = new Map<string, number>();

  const bucketAt = (now: number): Bucket => {
    const start = Math.floor(now / bucketMs) * bucketMs;
    const bucket = buckets[Math.floor(start / bucketMs) % buckets.length]!;
    if (bucket.start !== start) {
      bucket.start = start;
      bucket.ok = 0;
      bucket.errors = 0;
      bucket.errorsByCode.clear();
      bucket.latencies.length = 0;
      bucket.seen = 0;
    }
    return bucket;
  };

  const recordOk = (latencyMs: number): void => {
    totalOk += 1;
    const bucket = bucketAt(clock.now());
    bucket.ok += 1;
    bucket.seen += 1;
    if (bucket.latencies.length < maxSamplesPerBucket) {
      bucket.latencies.push(latencyMs);
    } else {
      const slot = Math.floor(random() * bucket.seen);
      if (slot < maxSamplesPerBucket) bucket.latencies[slot] = latencyMs;
    }
  };

  const recordError = (code: string): void => {
    totalErrors += 1;
    totalErrorsByCode.set(code, (totalErrorsByCode.get(code) ?? 0) + 1);
    const bucket = bucketAt(clock.now());
    bucket.errors += 1;
    bucket.errorsByCode.set(code, (bucket.errorsByCode.get(code) ?? 0) + 1);
  };

  const pause = (signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (errorPauseMs === 0 || signal.aborted) {
        resolve();
        return;
      }
      const onAbort = (): void => {
        clock.clearTimeout(handle);
        resolve();
      };
      const handle = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, errorPauseMs);
      unrefTimer(handle);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  const run = async (worker: Worker): Promise<void> => {
    const { signal } = worker.controller;
    while (!signal.aborted) {
      const started = clock.now();
      try {
        await operation(signal);
        recordOk(clock.now() - started);
      } catch (error) {
        // Told to stop: the rejection is our own abort, not the pool's doing.
        if (signal.aborted) break;
        recordError(classify(error));
        await pause(signal);
      }
    }
  };

  const start = (): void => {
    const worker: Worker = { controller: new AbortController(), done: Promise.resolve() };
    workers.push(worker);
    worker.done = run(worker);
  };

  const retire = (worker: Worker): void => {
    stopping.add(worker);
    worker.controller.abort(new Error('load generator: worker stopped'));
    void worker.done.finally(() => stopping.delete(worker));
  };

  const percentile = (sorted: readonly number[], fraction: number): number | null => {
    if (sorted.length === 0) return null;
    const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
    return sorted[Math.max(0, index)]!;
  };

  const windowFigures = (): LoadWindow => {
    const now = clock.now();
    const oldest = Math.floor(now / bucketMs) * bucketMs - windowMs + bucketMs;
    let ok = 0;
    let errors = 0;
    const byCode: Record<string, number> = {};
    const latencies: number[] = [];
    for (const bucket of buckets) {
      if (bucket.start < oldest || bucket.start > now) continue;
      ok += bucket.ok;
      errors += bucket.errors;
      for (const [code, count] of bucket.errorsByCode) byCode[code] = (byCode[code] ?? 0) + count;
      for (const latency of bucket.latencies) latencies.push(latency);
    }
    latencies.sort((left, right) => left - right);
    const spanMs = Math.max(1, Math.min(windowMs, now - createdAt));
    return {
      spanMs,
      ok,
      errors,
      okPerSecond: (ok * 1_000) / spanMs,
      errorsPerSecond: (errors * 1_000) / spanMs,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.length === 0 ? null : latencies[latencies.length - 1]!,
      errorsByCode: byCode,
    };
  };

  return {
    setWorkers(count) {
      if (!Number.isInteger(count) || count < 0 || count > maxWorkers) {
        throw new InvalidOptionError('workers', count, `an integer from 0 to ${maxWorkers}`);
      }
      while (workers.length < count) start();
      while (workers.length > count) retire(workers.pop()!);
    },
    status() {
      return {
        workers: workers.length,
        running: workers.length + stopping.size,
        maxWorkers,
        ok: totalOk,
        errors: totalErrors,
        errorsByCode: Object.fromEntries(totalErrorsByCode),
        window: windowFigures(),
      };
    },
    async stop() {
      const all = [...workers, ...stopping];
      while (workers.length > 0) retire(workers.pop()!);
      await Promise.all(all.map((worker) => worker.done));
    },
  };
}
