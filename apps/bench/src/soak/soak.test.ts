import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from './fault-schedule.js';
import { runSoak, type SoakOptions, SoakUnavailableError } from './run-soak.js';
import { renderSoakReport, type SoakReport } from './soak-report.js';

/**
 * The soak against a real PostgreSQL behind the fault proxy: 60 s on a fixed seed whose
 * schedule meets every kind of fault, which must hold every invariant; and a short run in which
 * the test breaks two invariants on purpose, which must be reported as broken. Without local
 * PostgreSQL binaries both skip with the reason printed.
 */

/** A seed whose first 27 s of faults include every kind, so a slow machine still meets them all. */
const SEED = 169;

async function soakOrSkip(
  options: SoakOptions,
  skip: (note: string) => void,
): Promise<SoakReport | undefined> {
  try {
    return await runSoak(options);
  } catch (error) {
    if (error instanceof SoakUnavailableError) {
      console.log(`soak skipped: ${error.message}`);
      skip(error.message);
      return undefined;
    }
    throw error;
  }
}

describe('soak', () => {
  it(`holds every invariant for 60 s of random faults (seed ${SEED})`, async (context) => {
    const report = await soakOrSkip({ seed: SEED, durationMs: 60_000 }, (note) =>
      context.skip(note),
    );
    if (report === undefined) return;
    console.log(renderSoakReport(report));
    for (const invariant of report.invariants) {
      expect(invariant.violations, invariant.name).toEqual([]);
      expect(invariant.ok, invariant.name).toBe(true);
    }
    expect(report.ok).toBe(true);
    expect(report.faults.map(([kind]) => kind)).toEqual([...FAULT_KINDS]);
    const calls = report.operations.reduce((sum, [, count]) => sum + count, 0);
    expect(calls).toBeGreaterThan(1_000);
  }, 150_000);

  it('reports an acknowledged write deleted and a lease never released as broken', async (context) => {
    const report = await soakOrSkip(
      {
        seed: 7,
        durationMs: 14_000,
        warmupMs: 4_000,
        async sabotage({ pool, query }) {
          await query('DELETE FROM soak_writes WHERE id = (SELECT min(id) FROM soak_writes)');
          // Acquired and never released.
          await pool.acquire();
        },
      },
      (note) => context.skip(note),
    );
    if (report === undefined) return;
    console.log(renderSoakReport(report));
    const broken = report.invariants.filter((invariant) => !invariant.ok).map((i) => i.name);
    expect(broken).toEqual([
      'no lease leaked; nothing left after close()',
      'no acknowledged write missing (count and checksum)',
    ]);
    expect(report.ok).toBe(false);
    const writes = report.invariants.find((i) => i.name.startsWith('no acknowledged write'))!;
    expect(writes.violations.join('\n')).toMatch(/1 acknowledged write\(s\) missing/);
    const leases = report.invariants.find((i) => i.name.startsWith('no lease leaked'))!;
    expect(leases.violations.join('\n')).toMatch(/acquired \d+ but released \d+/);
    expect(renderSoakReport(report)).toContain('INVARIANT BROKEN');
  }, 90_000);
});
