import type { Driver, Logger } from '@enhanced-pool/core';
import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { type CloseHost, CloseProtocol } from './close-protocol.js';
import type { DestroyReason } from './pool-events.js';
import { ConnectionRecord, LEASED } from './pooled-connection.js';

const CLOSE_TIMEOUT_MS = 500;

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string, context?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${JSON.stringify(context ?? {})}`);
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

interface SetupOptions {
  /** Replaces `driver.close`. */
  readonly close?: Driver<string>['close'];
}

function setup(options: SetupOptions = {}) {
  const clock = createFakeClock();
  const closed: string[] = [];
  // Only close() is used; the rest of the contract answers what a stub can.
  const driver: Driver<string> = {
    specificationVersion: 'v1',
    name: 'stub',
    connect: () => Promise.reject(new Error('not used by the close protocol')),
    validate: () => Promise.resolve(),
    close:
      options.close ??
      ((connection) => {
        closed.push(connection);
        return Promise.resolve();
      }),
    classifyError: () => 'unknown',
    describe: () => ({ 'db.system.name': 'stub' }),
  };
  const logger = recordingLogger();
  const finished: number[] = [];
  const discarded: { readonly connection: string; readonly reason: DestroyReason }[] = [];
  const records = new Map<string, ConnectionRecord<string>>();
  const host: CloseHost<string> & { size: number; connecting: number } = {
    size: 0,
    records,
    connecting: 0,
    connectsInFlight: () => host.connecting,
    // As the pool does: out of the pool, closed, and the protocol told.
    discard(record, reason) {
      discarded.push({ connection: record.connection, reason });
      records.delete(record.connection);
      host.size--;
      closer.closeConnection(record.connection);
      closer.check();
    },
    finished: (forced) => finished.push(forced),
  };
  const closer: CloseProtocol<string> = new CloseProtocol(
    { driver, clock, logger, logContext: { pool: 'orders' }, name: 'orders' },
    host,
  );
  let nextId = 1;
  /** A connection a borrower still holds. */
  const leased = (): ConnectionRecord<string> => {
    const id = nextId++;
    const record = new ConnectionRecord(`connection-${id}`, id, 0, Infinity);
    record.state = LEASED;
    records.set(record.connection, record);
    host.size++;
    return record;
  };
  return { clock, closed, logger, finished, discarded, host, closer, leased };
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('CloseProtocol', () => {
  it('finishes at once when nothing is left, arming no deadline', () => {
    const { clock, closer, finished } = setup();
    closer.begin(CLOSE_TIMEOUT_MS);
    expect(closer.closing).toBe(true);
    expect(finished).toEqual([0]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('does nothing before begin()', () => {
    const { closer, finished } = setup();
    closer.check();
    expect(finished).toEqual([]);
  });

  it('waits for a leased connection to come back and be closed', async () => {
    const { clock, closed, closer, finished, host, leased } = setup();
    const record = leased();
    closer.begin(CLOSE_TIMEOUT_MS);
    expect(finished).toEqual([]);
    host.discard(record, 'close');
    // Its driver.close() is still pending.
    expect(finished).toEqual([]);
    await clock.flush();
    expect(closed).toEqual(['connection-1']);
    expect(finished).toEqual([0]);
    // Finished before the deadline: its timer is gone.
    expect(clock.pendingTimers()).toBe(0);
  });

  it('waits for connects in flight', () => {
    const { closer, finished, host } = setup();
    host.connecting = 1;
    closer.begin(CLOSE_TIMEOUT_MS);
    expect(finished).toEqual([]);
    host.connecting = 0;
    closer.check();
    expect(finished).toEqual([0]);
  });

  it('waits for every driver.close() to settle', async () => {
    const slow = deferred();
    const { clock, closer, finished } = setup({ close: () => slow.promise });
    closer.closeConnection('connection-1');
    closer.begin(CLOSE_TIMEOUT_MS);
    await clock.flush();
    expect(finished).toEqual([]);
    slow.resolve();
    await clock.flush();
    expect(finished).toEqual([0]);
  });

  it('at the deadline, closes what is still leased and reports how many were forced', async () => {
    const slow = deferred();
    const { clock, closer, discarded, finished, logger, leased } = setup({
      close: () => slow.promise,
    });
    leased();
    leased();
    closer.begin(CLOSE_TIMEOUT_MS);
    clock.advance(CLOSE_TIMEOUT_MS - 1);
    expect(finished).toEqual([]);
    clock.advance(1);
    expect(discarded).toEqual([
      { connection: 'connection-1', reason: 'close' },
      { connection: 'connection-2', reason: 'close' },
    ]);
    // Done at the deadline, without waiting for those closes.
    expect(finished).toEqual([2]);
    expect(logger.lines).toEqual([
      expect.stringMatching(/^warn .*close timed out with 2 connection\(s\) still in use/),
    ]);
    slow.resolve();
    await clock.flush();
    expect(finished).toEqual([2]);
  });

  it('forces at once with a timeout of 0', () => {
    const { clock, closer, discarded, finished, leased } = setup();
    leased();
    closer.begin(0);
    expect(discarded).toHaveLength(1);
    expect(finished).toEqual([1]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('logs a failing driver.close() instead of throwing, and still finishes', async () => {
    const { clock, closer, finished, logger } = setup({
      close: () => Promise.reject(new Error('close failed for postgres://app:hunter2@db/app')),
    });
    closer.closeConnection('connection-1');
    closer.begin(CLOSE_TIMEOUT_MS);
    await clock.flush();
    expect(finished).toEqual([0]);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(/^warn Pool "orders": closing a connection failed/);
    expect(logger.lines[0]).not.toContain('hunter2');
  });

  it('treats a driver.close() that throws synchronously the same way', async () => {
    const { clock, closer, finished, logger } = setup({
      close: () => {
        throw new Error('close exploded');
      },
    });
    expect(() => closer.closeConnection('connection-1')).not.toThrow();
    closer.begin(CLOSE_TIMEOUT_MS);
    await clock.flush();
    expect(finished).toEqual([0]);
    expect(logger.lines[0]).toContain('close exploded');
  });

  it('finishes exactly once', async () => {
    const { clock, closer, finished, host, leased } = setup();
    const record = leased();
    closer.begin(CLOSE_TIMEOUT_MS);
    host.discard(record, 'close');
    await clock.flush();
    closer.check();
    clock.advance(CLOSE_TIMEOUT_MS);
    expect(finished).toEqual([0]);
  });
});
