import { CircuitOpenError, ConnectError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { AcquireTracker } from './acquire-tracker.js';
import {
  ABORTED,
  ACQUIRE_TIMEOUT,
  CIRCUIT_OPEN,
  CONNECTION,
  classifyCallerError,
  STATEMENT_TIMEOUT,
} from './caller-errors.js';
import { CountAgreement, type PoolCount } from './count-agreement.js';
import { ErrorTally } from './error-tally.js';
import { FaultTimeline } from './fault-timeline.js';
import { LoopStalls } from './loop-stalls.js';
import { compareWrites, type TableContents, WriteLedger } from './write-ledger.js';

/** Each check fed a deliberately broken run reports it, with its figure; a sound one does not. */

function manualTime(): {
  now: () => number;
  advance: (ms: number) => void;
  wait: (ms: number) => Promise<void>;
} {
  let time = 0;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
    wait: async (ms) => {
      time += ms;
    },
  };
}

describe('AcquireTracker', () => {
  it('reports a waiter older than deadline + slack, once, and one that settles late', () => {
    const time = manualTime();
    const tracker = new AcquireTracker(2_000, 100, undefined, time.now);
    const stuck = tracker.start();
    const slow = tracker.start();
    const fine = tracker.start();
    time.advance(1_500);
    tracker.settle(fine);
    time.advance(650);
    tracker.sweep();
    tracker.sweep();
    expect(tracker.late).toBe(2);
    expect(tracker.examples[0]).toMatch(/acquire waiting after 2150 ms \(limit 2100 ms/);
    tracker.settle(slow);
    expect(tracker.late).toBe(2);
    expect(tracker.pending()).toBe(1);
    expect(tracker.slowestMs).toBe(2_150);
    tracker.settle(stuck);
    tracker.settle(stuck);
    expect(tracker.settled).toBe(3);
  });

  it('sets apart a settle late by no more than an event-loop stall, but not a waiter that stays stuck', () => {
    const time = manualTime();
    const stalls = new LoopStalls(50, time.now);
    const tracker = new AcquireTracker(2_000, 100, stalls, time.now);
    const blocked = tracker.start();
    const stuck = tracker.start();
    for (let tick = 0; tick < 39; tick++) {
      time.advance(50);
      stalls.tick();
    }
    // The loop is blocked for 300 ms across the deadline, then everything runs at once.
    time.advance(350);
    stalls.tick();
    tracker.sweep();
    tracker.settle(blocked);
    expect(tracker.late).toBe(0);
    expect(tracker.lateInStall).toBe(2);
    for (let tick = 0; tick < 10; tick++) {
      time.advance(50);
      stalls.tick();
      tracker.sweep();
    }
    expect(tracker.late).toBe(1);
    expect(tracker.lateInStall).toBe(1);
    expect(tracker.pending()).toBe(1);
    expect(tracker.settled).toBe(1);
    void stuck;
  });
});

describe('CountAgreement', () => {
  it('records how long the counts took to agree', async () => {
    const time = manualTime();
    const pool: PoolCount = { poolSize: 10, connecting: 0 };
    let server = 13;
    const counts = new CountAgreement(
      () => pool,
      async () => {
        time.advance(100);
        return server--;
      },
      1_000,
      time,
    );
    await counts.check('kill', 0, () => undefined);
    expect(counts.late).toBe(0);
    expect(counts.checked).toBe(1);
    // Readings at 0, 120, 240 and 360 ms (each takes 100 ms, then 20 ms between them).
    expect(counts.slowestMs).toBe(360);
  });

  it('reports counts that still differ a second after a fault, with both figures', async () => {
    const time = manualTime();
    const counts = new CountAgreement(
      () => ({ poolSize: 10, connecting: 0 }),
      async () => {
        time.advance(200);
        return 7;
      },
      1_000,
      time,
    );
    await counts.check('#3 outage 400 ms', 0, () => undefined);
    expect(counts.late).toBe(1);
    expect(counts.examples[0]).toMatch(
      /^#3 outage 400 ms: still differ \d+ ms after it ended \(pool 10→10 \(connecting 0→0\), server 7\)/,
    );
  });

  it('lets the server see connects in flight, but never more', async () => {
    const time = manualTime();
    const inFlight = new CountAgreement(
      () => ({ poolSize: 6, connecting: 4 }),
      async () => {
        time.advance(100);
        return 7;
      },
      1_000,
      time,
    );
    await inFlight.check('restart', 0, () => undefined);
    expect(inFlight.late).toBe(0);
    const leaked = new CountAgreement(
      () => ({ poolSize: 4, connecting: 1 }),
      async () => {
        time.advance(300);
        return 6;
      },
      1_000,
      time,
    );
    await leaked.check('kill-all', time.now(), () => undefined);
    expect(leaked.late).toBe(1);
  });

  it('never counts a reading while the pool changed under it', async () => {
    const time = manualTime();
    let size = 0;
    const counts = new CountAgreement(
      () => ({ poolSize: size++ % 2 === 0 ? 5 : 6, connecting: 0 }),
      async () => {
        time.advance(100);
        return 5;
      },
      1_000,
      time,
    );
    await counts.check('kill-all', 0, () => undefined);
    expect(counts.late).toBe(1);
  });

  it('lets the next fault supersede a check within the limit', async () => {
    const time = manualTime();
    const counts = new CountAgreement(
      () => ({ poolSize: 10, connecting: 0 }),
      async () => {
        time.advance(100);
        return 9;
      },
      1_000,
      time,
    );
    await counts.check('kill-some (1)', 0, () => 250);
    expect(counts.superseded).toBe(1);
    expect(counts.late).toBe(0);
  });
});

describe('compareWrites', () => {
  function ledgerOf(writes: readonly [number, number][]): WriteLedger {
    const ledger = new WriteLedger();
    for (const [id, value] of writes) ledger.acknowledge(id, value);
    return ledger;
  }
  const table = (rows: number, idSum: number, valueSum: number): TableContents => ({
    rows,
    idSum,
    valueSum,
    inDoubtCommitted: 0,
    counterSum: rows,
    allRows: rows,
  });

  it('accepts a table holding exactly the acknowledged rows', () => {
    expect(
      compareWrites(
        ledgerOf([
          [1, 10],
          [2, 20],
        ]),
        table(2, 3, 30),
      ),
    ).toEqual([]);
  });

  it('reports a missing acknowledged write by count and checksum', () => {
    const problems = compareWrites(
      ledgerOf([
        [1, 10],
        [2, 20],
      ]),
      table(1, 1, 10),
    );
    expect(problems).toEqual([
      '1 acknowledged write(s) missing: 2 acknowledged, 1 in the table',
      'checksum differs: ids 1 vs 3 acknowledged, values 10 vs 30',
    ]);
  });

  it('reports a row whose value changed, with the count unchanged', () => {
    expect(compareWrites(ledgerOf([[1, 10]]), table(1, 1, 11))).toEqual([
      'checksum differs: ids 1 vs 1 acknowledged, values 11 vs 10',
    ]);
  });

  it('reports a row nobody was told was written, and a transaction committed in part', () => {
    expect(compareWrites(ledgerOf([[1, 10]]), table(2, 3, 30))[0]).toMatch(
      /1 row\(s\) in the table/,
    );
    const partial = { ...table(1, 1, 10), counterSum: 2 };
    expect(compareWrites(ledgerOf([[1, 10]]), partial)).toEqual([
      'counters say 2 inserts committed, the table has 1 rows: a transaction committed in part',
    ]);
  });
});

describe('caller errors', () => {
  it('groups what callers get', () => {
    expect(classifyCallerError(new CircuitOpenError(120))).toBe(CIRCUIT_OPEN);
    expect(classifyCallerError(new ConnectError('timeout', new Error('slow')))).toBe(
      'CONNECT_FAILED (timeout)',
    );
    const abort = new DOMException('aborted', 'AbortError');
    expect(classifyCallerError(abort, abort)).toBe(ABORTED);
    expect(classifyCallerError(Object.assign(new Error('canceling'), { code: '57014' }))).toBe(
      STATEMENT_TIMEOUT,
    );
    expect(classifyCallerError(new Error('Connection terminated unexpectedly'))).toBe(CONNECTION);
    expect(classifyCallerError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(CONNECTION);
    expect(classifyCallerError(Object.assign(new Error('dup'), { code: '23505' }))).toBe(
      'other: 23505 (query)',
    );
  });

  it('judges an error against the faults its call overlapped', () => {
    const timeline = new FaultTimeline(3_000);
    const end = timeline.begin('blackhole', 10_000);
    end(12_000);
    expect(timeline.expects(ACQUIRE_TIMEOUT, 9_000, 11_000)).toBe(true);
    expect(timeline.expects(ACQUIRE_TIMEOUT, 14_000, 14_500)).toBe(true);
    expect(timeline.expects(ACQUIRE_TIMEOUT, 15_500, 17_000)).toBe(false);
    expect(timeline.expects(CONNECTION, 10_500, 11_000)).toBe(false);
    expect(timeline.expects(CIRCUIT_OPEN, 1_000, 2_000)).toBe(false);
  });

  it('counts unexpected errors apart, with examples', () => {
    const tally = new ErrorTally();
    tally.record(CONNECTION, true, () => 'x');
    tally.record('other: 23505 (query)', false, () => 'duplicate key');
    expect(tally.total('expected')).toBe(1);
    expect(tally.total('unexpected')).toBe(1);
    expect(tally.examples).toEqual(['other: 23505 (query): duplicate key']);
  });
});
