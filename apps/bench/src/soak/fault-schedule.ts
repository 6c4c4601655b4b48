import { createSeededRandom, type SeededRandom } from './seeded-random.js';

/**
 * The faults of a soak:
 * - `kill-all`, `kill-idle`, `kill-some`: the pool's backends terminated on the server (every
 *   one, the idle ones, or a few picked at random);
 * - `outage`: the proxy cuts every connection and refuses new ones for `durationMs`;
 * - `blackhole`: new connects hang (accepted, never answered) for `durationMs`;
 * - `partition`: a blackhole that also stalls open connections, statements in flight included;
 * - `latency`: `latencyMs` added to every server reply for `durationMs`;
 * - `restart`: the server stopped (`immediate`: a crash; `fast`: a clean shutdown), down for
 *   `durationMs`, then started again;
 * - `slow-statements`: for `durationMs`, some callers run statements longer than the
 *   connections' `statement_timeout`, which the server cancels.
 */
export type FaultKind =
  | 'kill-all'
  | 'kill-idle'
  | 'kill-some'
  | 'outage'
  | 'blackhole'
  | 'partition'
  | 'latency'
  | 'restart'
  | 'slow-statements';

export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-all',
  'kill-idle',
  'kill-some',
  'outage',
  'blackhole',
  'partition',
  'latency',
  'restart',
  'slow-statements',
];

/** One fault of the schedule, at a time relative to the start of the fault phase. */
export interface PlannedFault {
  /** Position in the schedule, from 1. */
  readonly index: number;
  readonly kind: FaultKind;
  /** When it starts, in ms after the fault phase began. */
  readonly atMs: number;
  /** How long it lasts (outage, blackhole, partition, latency, downtime, slow window); 0 for kills. */
  readonly durationMs: number;
  /** `latency`: ms added to each reply. */
  readonly latencyMs?: number;
  /** `restart`: how the server stops. */
  readonly restartMode?: 'immediate' | 'fast';
  /** `kill-some`: how many backends to terminate. */
  readonly killCount?: number;
}

/** Options of {@link planFaults}. */
export interface FaultPlanOptions {
  readonly seed: number;
  /** Length of the fault phase; the last fault ends `quietTailMs` before it. */
  readonly durationMs: number;
  /** @default 2000 */
  readonly quietTailMs?: number;
}

/** Outages last 0.2–5 s, as the issue of record asks; the others are sized to match. */
const RANGES = {
  outage: [200, 5_000],
  blackhole: [200, 5_000],
  partition: [200, 3_000],
  latency: [1_000, 6_000],
  latencyMs: [20, 250],
  restart: [200, 3_000],
  'slow-statements': [1_000, 5_000],
  killSome: [1, 5],
} as const;

/** Most gaps give the pool time to recover; one in six starts the next fault during recovery. */
const LONG_GAP_MS = [1_200, 6_000] as const;
const SHORT_GAP_MS = [200, 1_000] as const;
const SHORT_GAP_SHARE = 1 / 6;

function dealer(random: SeededRandom): () => FaultKind {
  let deck: FaultKind[] = [];
  return () => {
    if (deck.length === 0) {
      // A shuffled deck of every kind: each appears once before any repeats, so even a short
      // run meets them all, in an order the seed decides.
      deck = [...FAULT_KINDS];
      for (let index = deck.length - 1; index > 0; index--) {
        const other = random.int(0, index);
        [deck[index], deck[other]] = [deck[other]!, deck[index]!];
      }
    }
    return deck.pop()!;
  };
}

function plan(kind: FaultKind, random: SeededRandom, index: number, atMs: number): PlannedFault {
  const span = (range: readonly [number, number]): number => random.int(range[0], range[1]);
  switch (kind) {
    case 'kill-all':
    case 'kill-idle':
      return { index, kind, atMs, durationMs: 0 };
    case 'kill-some':
      return { index, kind, atMs, durationMs: 0, killCount: span(RANGES.killSome) };
    case 'latency':
      return {
        index,
        kind,
        atMs,
        durationMs: span(RANGES.latency),
        latencyMs: span(RANGES.latencyMs),
      };
    case 'restart':
      return {
        index,
        kind,
        atMs,
        durationMs: span(RANGES.restart),
        restartMode: random.chance(0.7) ? 'immediate' : 'fast',
      };
    default:
      return { index, kind, atMs, durationMs: span(RANGES[kind]) };
  }
}

/** The fault schedule of a seed: the same seed and duration always give the same list. */
export function planFaults(options: FaultPlanOptions): PlannedFault[] {
  const random = createSeededRandom(options.seed).fork(1);
  const next = dealer(random);
  const endMs = options.durationMs - (options.quietTailMs ?? 2_000);
  const faults: PlannedFault[] = [];
  let atMs = random.int(SHORT_GAP_MS[0], LONG_GAP_MS[0]);
  for (;;) {
    const fault = plan(next(), random, faults.length + 1, atMs);
    // A restart's stop and start take about a second on top of its downtime.
    const takesMs = fault.durationMs + (fault.kind === 'restart' ? 1_500 : 200);
    if (atMs + takesMs > endMs) break;
    faults.push(fault);
    const gap = random.chance(SHORT_GAP_SHARE) ? SHORT_GAP_MS : LONG_GAP_MS;
    atMs += takesMs + random.int(gap[0], gap[1]);
  }
  return faults;
}
