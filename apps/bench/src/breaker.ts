import {
  type CircuitBreaker,
  type CircuitBreakerOptions,
  createCircuitBreaker,
} from '@enhanced-pool/circuit-breaker';
import {
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  CountBreaker,
  circuitBreaker,
  handleAll,
} from 'cockatiel';
import OpossumBreaker from 'opossum';
import { countLiveTimers } from './live-timers.js';
import {
  type Cell,
  collectGarbage,
  defaultTiming,
  measureCells,
  type TimingSettings,
} from './measure.js';
import type { SectionOutput } from './section.js';
import { formatBytes, formatRate, formatRatio, type Table } from './table.js';

/** Section 1 (issue 2): the breaker's closed-state cost, and what idle breakers hold. */
export interface BreakerBenchOptions {
  readonly timing?: TimingSettings;
  /** Serial `execute()` calls per chunk. @default 2000 */
  readonly chunk?: number;
  /** How many idle breakers the memory figure holds. @default 10000 */
  readonly idleBreakers?: number;
}

const THROUGHPUT_TITLE = '1a. Circuit breaker: `execute()` ops/s in the closed state';
const MEMORY_TITLE = '1b. Circuit breaker: 10,000 idle breakers';

/** The action every breaker runs: an already-resolved promise, so only the breaker is timed. */
const work = (): Promise<number> => Promise.resolve(1);

/** Same thresholds everywhere: 5 consecutive failures, or 50 % of the last 20 calls; 30 s open. */
const OPEN_MS = 30_000;

interface Contender {
  readonly name: string;
  readonly library: 'floor' | 'ours' | 'opossum' | 'cockatiel';
  readonly configuration: string;
  /** Builds one breaker and returns a function that runs `work` through it once. */
  create(): { execute(): Promise<unknown>; dispose(): void };
}

function ourContenders(): Contender[] {
  const ours = (options?: CircuitBreakerOptions) => () => {
    const breaker: CircuitBreaker = createCircuitBreaker(options);
    return { execute: () => breaker.execute(work), dispose: () => {} };
  };
  return [
    {
      name: 'enhanced-pool',
      library: 'ours',
      configuration:
        "defaults (window `{ kind: 'count', size: 20 }`, failureRateThreshold 0.5, minimumCalls 10, openDurationMs 10000)",
      create: ours(),
    },
    {
      name: 'enhanced-pool',
      library: 'ours',
      configuration: "window `{ kind: 'consecutive', failures: 5 }`, openDurationMs 30000",
      create: ours({ window: { kind: 'consecutive', failures: 5 }, openDurationMs: OPEN_MS }),
    },
    {
      name: 'enhanced-pool',
      library: 'ours',
      configuration:
        "window `{ kind: 'count', size: 20 }`, failureRateThreshold 0.5, minimumCalls 20, openDurationMs 30000",
      create: ours({
        window: { kind: 'count', size: 20 },
        failureRateThreshold: 0.5,
        minimumCalls: 20,
        openDurationMs: OPEN_MS,
      }),
    },
  ];
}

function peerContenders(): Contender[] {
  const opossum = (options: OpossumBreaker.Options) => () => {
    const breaker = new OpossumBreaker(work, options);
    return { execute: () => breaker.fire(), dispose: () => breaker.shutdown() };
  };
  const cockatiel = (policy: () => CircuitBreakerPolicy) => () => {
    const breaker = policy();
    return { execute: () => breaker.execute(work), dispose: () => {} };
  };
  return [
    {
      name: 'opossum 10.0.0',
      library: 'opossum',
      configuration:
        'timeout: false (its per-call timer disabled), resetTimeout 30000; defaults otherwise (50 % of a 10 s rolling window, 10 buckets)',
      create: opossum({ timeout: false, resetTimeout: OPEN_MS }),
    },
    {
      name: 'opossum 10.0.0',
      library: 'opossum',
      configuration: 'defaults (timeout 10000: one timer per call)',
      create: opossum({ resetTimeout: OPEN_MS }),
    },
    {
      name: 'cockatiel 3.2.1',
      library: 'cockatiel',
      configuration: '`ConsecutiveBreaker(5)`, halfOpenAfter 30000, handleAll',
      create: cockatiel(() =>
        circuitBreaker(handleAll, { halfOpenAfter: OPEN_MS, breaker: new ConsecutiveBreaker(5) }),
      ),
    },
    {
      name: 'cockatiel 3.2.1',
      library: 'cockatiel',
      configuration:
        '`CountBreaker({ threshold: 0.5, size: 20, minimumNumberOfCalls: 20 })`, halfOpenAfter 30000',
      create: cockatiel(() =>
        circuitBreaker(handleAll, {
          halfOpenAfter: OPEN_MS,
          breaker: new CountBreaker({ threshold: 0.5, size: 20, minimumNumberOfCalls: 20 }),
        }),
      ),
    },
  ];
}

/** One serial loop per contender (a function literal each, so no call site is shared). */
function toCell(contender: Contender, chunk: number): Cell & { dispose(): void } {
  const breaker = contender.create();
  const execute = breaker.execute;
  return {
    name: `${contender.name} (${contender.configuration})`,
    chunk,
    run: async (count) => {
      for (let index = 0; index < count; index++) await execute();
    },
    dispose: breaker.dispose,
  };
}

/** Heap and timers held by `count` breakers that each ran once and then sat idle. */
async function measureIdle(
  contender: Contender,
  count: number,
): Promise<{ heapBytes: number; timers: number }> {
  collectGarbage();
  collectGarbage();
  await new Promise((resolve) => setImmediate(resolve));
  const timers = countLiveTimers();
  const before = process.memoryUsage().heapUsed;
  const breakers: { execute(): Promise<unknown>; dispose(): void }[] = [];
  for (let index = 0; index < count; index++) {
    const breaker = contender.create();
    await breaker.execute();
    breakers.push(breaker);
  }
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  collectGarbage();
  const heapBytes = process.memoryUsage().heapUsed - before;
  const liveTimers = timers.live();
  for (const breaker of breakers) breaker.dispose();
  breakers.length = 0;
  timers.stop();
  return { heapBytes, timers: liveTimers };
}

/** Runs section 1 and returns its tables. */
export async function runBreakerBench(options: BreakerBenchOptions = {}): Promise<SectionOutput> {
  const timing = options.timing ?? defaultTiming;
  const chunk = options.chunk ?? 2_000;
  const idleCount = options.idleBreakers ?? 10_000;
  const ours = ourContenders();
  const peers = peerContenders();
  const floor: Contender = {
    name: 'floor: no breaker',
    library: 'floor',
    configuration: '`await work()` directly: the cost of the loop itself',
    create: () => ({ execute: work, dispose: () => {} }),
  };
  const contenders = [floor, ...ours, ...peers];

  const cells = contenders.map((contender) => toCell(contender, chunk));
  const results = await measureCells(cells, timing);
  for (const cell of cells) cell.dispose();

  const fastestPeer = Math.max(
    ...results
      .filter((_, index) => ['opossum', 'cockatiel'].includes(contenders[index]!.library))
      .map((r) => r.median),
  );
  const bestOf = (library: Contender['library']): number =>
    Math.max(
      ...results.filter((_, index) => contenders[index]!.library === library).map((r) => r.median),
    );
  const throughput: Table = {
    title: THROUGHPUT_TITLE,
    headers: ['breaker', 'configuration', 'ops/s (median)', 'runs', '× fastest peer'],
    rows: results.map((result, index) => [
      contenders[index]!.name,
      contenders[index]!.configuration,
      formatRate(result.median),
      result.runs.map(formatRate).join(' / '),
      formatRatio(result.median / fastestPeer),
    ]),
    notes: [
      `Method: \`await breaker.execute(() => Promise.resolve(1))\` in a serial loop (opossum: \`fire()\` of that action); ${timing.warmupMs} ms warm-up, then ≥ ${timing.durationMs} ms timed with process.hrtime.bigint(), median of ${timing.runs} runs, cells interleaved.`,
      'Every breaker stays closed (the action never fails); thresholds are the same where the libraries allow: 5 consecutive failures, or 50 % of the last 20 calls, 30 s open.',
      'The floor row is the same loop with no breaker: every breaker pays that cost too, so it bounds how far apart two breakers can measure.',
      `Targets: ≥ 3× opossum, ≥ 1.5× cockatiel. Best enhanced-pool row vs best opossum row: ${formatRatio(bestOf('ours') / bestOf('opossum'))}; vs best cockatiel row: ${formatRatio(bestOf('ours') / bestOf('cockatiel'))}. Defaults vs best opossum: ${formatRatio(results[1]!.median / bestOf('opossum'))}; vs best cockatiel: ${formatRatio(results[1]!.median / bestOf('cockatiel'))}.`,
    ],
  };

  // One configuration per library for memory: the first of each (ours: defaults).
  const memoryContenders = [
    ...ours.slice(0, 1),
    ...peers.filter((peer) => peer.library === 'opossum').slice(0, 1),
    ...peers.filter((peer) => peer.library === 'cockatiel').slice(0, 1),
  ];
  const memoryRows: string[][] = [];
  for (const contender of memoryContenders) {
    const { heapBytes, timers } = await measureIdle(contender, idleCount);
    memoryRows.push([
      contender.name,
      contender.configuration,
      formatBytes(heapBytes),
      formatBytes(heapBytes / idleCount),
      String(timers),
    ]);
  }
  const memory: Table = {
    title: MEMORY_TITLE,
    headers: [
      'breaker',
      'configuration',
      `heap held by ${idleCount.toLocaleString('en-US')}`,
      'per breaker',
      'timers held',
    ],
    rows: memoryRows,
    notes: [
      `Method: global.gc() twice, heapUsed before; create ${idleCount.toLocaleString('en-US')} breakers, run one successful call through each and keep them referenced; gc twice, heapUsed after. The delta includes the array holding them and the bench's small wrapper around each (the same for every library).`,
      'Timers held: Node `Timeout`s created while building them and still alive afterwards, counted with an async_hooks hook (it sees unref()ed timers, which process._getActiveHandles() does not).',
    ],
  };
  return [throughput, memory];
}
