import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, planFaults } from './fault-schedule.js';
import { createSeededRandom } from './seeded-random.js';

describe('planFaults', () => {
  it('gives the same schedule for the same seed, and another for another seed', () => {
    const a = planFaults({ seed: 42, durationMs: 600_000 });
    expect(planFaults({ seed: 42, durationMs: 600_000 })).toEqual(a);
    expect(planFaults({ seed: 43, durationMs: 600_000 })).not.toEqual(a);
  });

  it('keeps every fault inside its range, in order, ending before the quiet tail', () => {
    const faults = planFaults({ seed: 9, durationMs: 1_800_000 });
    expect(faults.length).toBeGreaterThan(200);
    let previous = 0;
    for (const fault of faults) {
      expect(fault.atMs).toBeGreaterThan(previous);
      previous = fault.atMs;
      expect(fault.atMs + fault.durationMs).toBeLessThanOrEqual(1_800_000 - 2_000);
      if (fault.kind === 'outage' || fault.kind === 'blackhole') {
        expect(fault.durationMs).toBeGreaterThanOrEqual(200);
        expect(fault.durationMs).toBeLessThanOrEqual(5_000);
      }
      if (fault.kind === 'latency') expect(fault.latencyMs).toBeGreaterThanOrEqual(20);
      if (fault.kind === 'restart') expect(['immediate', 'fast']).toContain(fault.restartMode);
      if (fault.kind === 'kill-some') expect(fault.killCount).toBeGreaterThanOrEqual(1);
    }
    // Every kind, about equally often; some start during the previous one's recovery.
    for (const kind of FAULT_KINDS) {
      expect(faults.filter((fault) => fault.kind === kind).length).toBeGreaterThan(20);
    }
  });

  it('meets every kind within the first nine faults', () => {
    const faults = planFaults({ seed: 1234, durationMs: 600_000 }).slice(0, FAULT_KINDS.length);
    expect(new Set(faults.map((fault) => fault.kind)).size).toBe(FAULT_KINDS.length);
  });
});

describe('createSeededRandom', () => {
  it('replays the same sequence, and forks into independent ones', () => {
    const a = createSeededRandom(5);
    const b = createSeededRandom(5);
    const first = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(first);
    expect(createSeededRandom(5).fork(1).next()).not.toBe(createSeededRandom(5).fork(2).next());
    for (let index = 0; index < 1_000; index++) {
      const value = a.int(3, 7);
      expect(value).toBeGreaterThanOrEqual(3);
      expect(value).toBeLessThanOrEqual(7);
    }
  });
});
