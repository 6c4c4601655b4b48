/**
 * The timing loop every section shares. It is deliberately plain so its method can be stated in
 * one sentence: collect garbage, warm up for `warmupMs`, then run chunks of `chunk` operations
 * until `durationMs` has passed on `process.hrtime.bigint()`, and divide operations by elapsed
 * time. Cells are measured round-robin (A B C, A B C, A B C) so a noisy neighbour on a shared
 * machine hurts every cell alike, and each cell reports the median of its runs.
 */

/** How long and how often to measure; the smoke test shrinks these to a few operations. */
export interface TimingSettings {
  /** Runs per cell; the median is reported. */
  readonly runs: number;
  /** Untimed work before each run, so the JIT has compiled the path being timed. */
  readonly warmupMs: number;
  /** Minimum timed duration of each run (at least one chunk always runs). */
  readonly durationMs: number;
}

/** The settings `pnpm bench` uses for throughput cells. */
export const defaultTiming: TimingSettings = { runs: 5, warmupMs: 200, durationMs: 600 };

/** Performs `count` operations and resolves when they are all done. */
export type ChunkRunner = (count: number) => Promise<void>;

/** One thing being measured. */
export interface Cell {
  readonly name: string;
  /** Operations per chunk: large enough that reading the clock costs nothing in comparison. */
  readonly chunk: number;
  readonly run: ChunkRunner;
}

/** Ops/s of every run of a cell, and their median. */
export interface CellResult {
  readonly name: string;
  readonly median: number;
  readonly runs: readonly number[];
}

const hasGc = (): boolean => typeof globalThis.gc === 'function';

/** Full collection between runs, so one cell's garbage is not collected on another's clock. */
export function collectGarbage(): void {
  if (hasGc()) globalThis.gc?.();
}

/** Elapsed milliseconds since a `process.hrtime.bigint()` reading. */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs chunks for at least `durationMs` (at least one chunk); returns operations per second. */
export async function timeRun(cell: Cell, durationMs: number): Promise<number> {
  let operations = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    await cell.run(cell.chunk);
    operations += cell.chunk;
    elapsed = elapsedMs(start);
  } while (elapsed < durationMs);
  return (operations / Math.max(elapsed, 1e-6)) * 1_000;
}

/** Untimed chunks for `warmupMs` (none when 0). */
export async function warmUp(cell: Cell, warmupMs: number): Promise<void> {
  if (warmupMs <= 0) return;
  const start = process.hrtime.bigint();
  while (elapsedMs(start) < warmupMs) await cell.run(cell.chunk);
}

/** Measures every cell `settings.runs` times, round-robin, and reports medians. */
export async function measureCells(
  cells: readonly Cell[],
  settings: TimingSettings,
): Promise<CellResult[]> {
  const runs = cells.map((): number[] => []);
  for (let round = 0; round < settings.runs; round++) {
    for (const [index, cell] of cells.entries()) {
      collectGarbage();
      await warmUp(cell, settings.warmupMs);
      runs[index]!.push(await timeRun(cell, settings.durationMs));
    }
  }
  return cells.map((cell, index) => ({
    name: cell.name,
    median: median(runs[index]!),
    runs: runs[index]!,
  }));
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile (`p` in 0..100) of the first `count` entries of `samples`. */
export function percentile(samples: Float64Array, count: number, p: number): number {
  if (count === 0) return Number.NaN;
  const sorted = samples.slice(0, count).sort();
  const rank = Math.min(count, Math.max(1, Math.ceil((p / 100) * count)));
  return sorted[rank - 1]!;
}

/** Runs `worker(index)` `concurrency` times at once and waits for all of them. */
export async function runWorkers(
  concurrency: number,
  worker: (index: number) => Promise<void>,
): Promise<void> {
  const workers: Promise<void>[] = [];
  for (let index = 0; index < concurrency; index++) workers.push(worker(index));
  await Promise.all(workers);
}

/** Resolves after `ms` of real time (the bench measures real time; it never fakes it). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles with `promise`, or with `fallback` after `ms`: every wait in the bench is bounded, so a
 * peer that hangs (pg-pool's `end()` with a leaked client) costs seconds, not the run.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
