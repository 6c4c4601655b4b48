import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBreakerBench } from './breaker.js';
import { parseOnly } from './cli.js';
import { describeMachine } from './machine.js';
import { median, percentile, type TimingSettings, withDeadline } from './measure.js';
import { runPoolBench } from './pool.js';
import { runQueryBench } from './query.js';
import { isUnavailable, type SectionOutput } from './section.js';
import { runSpikeBench } from './spike.js';
import { formatRate, formatRatio, renderTable, type Table } from './table.js';

/**
 * Smoke tests: each in-memory section runs end to end with a handful of operations, so
 * `pnpm test` proves the bench still builds against the packages it measures. No timing is
 * asserted. Of the sections that need PostgreSQL, the query section runs here against a
 * throwaway server; e2e and faults run only in `pnpm bench`.
 */

const tiny: TimingSettings = { runs: 1, warmupMs: 0, durationMs: 0 };

function tablesOf(output: SectionOutput): Table[] {
  return output.filter((item): item is Table => !isUnavailable(item));
}

/** Every row has one cell per header, and each rendered table names the machine. */
function expectWellFormed(output: SectionOutput): void {
  const machine = describeMachine(new Date(0));
  for (const table of tablesOf(output)) {
    expect(table.rows.length).toBeGreaterThan(0);
    for (const row of table.rows) expect(row).toHaveLength(table.headers.length);
    const rendered = renderTable(table, machine);
    expect(rendered).toContain(`### ${table.title}`);
    expect(rendered).toContain(`Node ${process.version}`);
  }
}

describe('breaker section', () => {
  it('measures every breaker and the idle heap with a few calls', async () => {
    const output = await runBreakerBench({ timing: tiny, chunk: 20, idleBreakers: 20 });
    expectWellFormed(output);
    const [throughput, memory] = tablesOf(output);
    const names = throughput!.rows.map((row) => row[0]);
    expect(names).toContain('enhanced-pool');
    expect(names).toContain('opossum 10.0.0');
    expect(names).toContain('cockatiel 3.2.1');
    for (const row of throughput!.rows) expect(row[2]).toMatch(/\d/);
    // opossum keeps two intervals per breaker even when idle; ours and cockatiel keep none.
    const timers = Object.fromEntries(memory!.rows.map((row) => [row[0], Number(row[4])]));
    expect(timers['opossum 10.0.0']).toBe(40);
    expect(timers['enhanced-pool']).toBe(0);
    expect(timers['cockatiel 3.2.1']).toBe(0);
  });
});

describe('pool section', () => {
  it('runs every pool serially and with concurrent borrowers on an in-memory resource', async () => {
    const output = await runPoolBench({ timing: tiny, size: 3, borrowers: 4, chunk: 16 });
    expectWellFormed(output);
    const [table] = tablesOf(output);
    const pools = table!.rows.map((row) => row[0]);
    expect(pools).toEqual(
      expect.arrayContaining([
        'enhanced-pool',
        'tarn 3.1.2',
        'generic-pool 3.9.0',
        'pg-pool 3.14.0',
      ]),
    );
    // Each pool opened exactly its size: the loops reuse connections, they never leak them.
    for (const row of table!.rows) expect(row[6]).toBe('3');
  });
});

describe('spike section', () => {
  it('runs the spike on every pool with short connects', async () => {
    const output = await runSpikeBench({
      borrowers: 6,
      connectMs: 5,
      holdMs: 1,
      minSize: 1,
      maxSize: 6,
      deadlineMs: 1_000,
      settleMs: 20,
    });
    expectWellFormed(output);
    const [table] = tablesOf(output);
    expect(table!.rows.map((row) => row[0])).toContain('enhanced-pool');
    for (const row of table!.rows) {
      const connections = Number(row[2]);
      expect(connections).toBeGreaterThanOrEqual(1);
      expect(connections).toBeLessThanOrEqual(6);
      expect(row[6]).toBe('0');
    }
  });
});

describe('query section', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres({ maxConnections: 100 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs every pool, the long run and the old/fresh comparison, briefly', async () => {
    const output = await runQueryBench(server, {
      concurrencies: [1, 4],
      runs: 1,
      warmupMs: 10,
      durationMs: 30,
      longRunMs: 200,
      windowMs: 100,
      longRounds: 1,
      slices: 1,
      sliceMs: 30,
    });
    expectWellFormed(output);
    const [table, long] = tablesOf(output);
    expect(table!.rows).toHaveLength(10);
    expect(long!.rows.map((row) => row[0])).toEqual([
      'enhanced-pool `pool.query()`',
      'raw pipelined: 10 pg.Clients, round robin',
      'postgres.js 3.4',
    ]);
    expect(long!.notes?.at(-1)).toMatch(
      /^enhanced-pool pool\.query\(\): last \/ first [\d.]+× .* fresh/,
    );
    // Every connection, the fresh copies' included, is closed (backends leave in a moment).
    let open = await server.countConnections();
    for (let poll = 0; open > 0 && poll < 100; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      open = await server.countConnections();
    }
    expect(open).toBe(0);
  }, 60_000);
});

describe('harness helpers', () => {
  it('takes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const samples = Float64Array.from([5, 1, 4, 2, 3, 99]);
    expect(percentile(samples, 5, 50)).toBe(3);
    expect(percentile(samples, 5, 99)).toBe(5);
    expect(percentile(samples, 0, 50)).toBeNaN();
  });

  it('bounds a wait that never settles', async () => {
    await expect(withDeadline(new Promise<string>(() => {}), 5, 'late')).resolves.toBe('late');
  });

  it('formats rates and ratios', () => {
    expect(formatRate(2_345_678)).toBe('2.35 M');
    expect(formatRate(45_600)).toBe('46 k');
    expect(formatRatio(1.234)).toBe('1.23×');
    expect(formatRatio(Number.NaN)).toBe('n/a');
  });

  it('parses --only and rejects unknown sections', () => {
    expect(parseOnly([])).toEqual(['breaker', 'pool', 'e2e', 'faults', 'spike', 'query']);
    expect(parseOnly(['--only', 'spike,breaker'])).toEqual(['breaker', 'spike']);
    expect(parseOnly(['--', '--only=pool', '--only', 'e2e'])).toEqual(['pool', 'e2e']);
    expect(() => parseOnly(['--only', 'nope'])).toThrow(/breaker\|pool\|e2e\|faults\|spike\|query/);
    expect(() => parseOnly(['--fast'])).toThrow(/Unknown argument/);
  });
});
