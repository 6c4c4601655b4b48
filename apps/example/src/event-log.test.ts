import { describe, expect, it } from 'vitest';
import { createEventLog, createThrottledLog, type LoggedEvent } from './event-log.js';

describe('createEventLog', () => {
  it('keeps the latest `capacity` events, oldest first, numbered in order', () => {
    const log = createEventLog({ capacity: 3, now: () => 42 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) log.log('test', 'info', name);

    expect(log.recent().map((event) => [event.seq, event.message])).toEqual([
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ]);
    expect(log.recent()[0]).toMatchObject({ at: 42, type: 'test', level: 'info' });
  });

  it('tells subscribers until they unsubscribe', () => {
    const log = createEventLog();
    const seen: LoggedEvent[] = [];
    const unsubscribe = log.subscribe((event) => seen.push(event));
    log.log('test', 'warn', 'one');
    unsubscribe();
    log.log('test', 'warn', 'two');
    expect(seen.map((event) => event.message)).toEqual(['one']);
  });

  it('never keeps a password from a connection string in a message', () => {
    const log = createEventLog();
    const event = log.log(
      'connectError',
      'error',
      'connect failed: postgres://app:s3cret-pw@db.internal:5432/orders refused',
    );
    expect(event.message).not.toContain('s3cret-pw');
    expect(JSON.stringify(log.recent())).not.toContain('s3cret-pw');
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => createEventLog({ capacity: 0 })).toThrow(RangeError);
  });
});

describe('createThrottledLog', () => {
  it('logs up to the limit per interval, then summarises what it held back once per interval', () => {
    let time = 0;
    const log = createEventLog();
    const throttled = createThrottledLog(log, { limit: 2, intervalMs: 1_000, now: () => time });

    for (let index = 1; index <= 5; index += 1) {
      throttled.log('breaker', 'breaker', 'warn', `flip ${index}`);
      time += 100;
    }
    expect(log.recent().map((event) => event.message)).toEqual(['flip 1', 'flip 2']);

    // Held back since 200 ms: no summary before a whole interval has passed.
    throttled.flush();
    expect(log.recent()).toHaveLength(2);
    time = 1_200;
    throttled.flush();
    const summary = log.recent().at(-1)!;
    expect(summary.message).toBe('… 3 more like this in 1.0 s; the latest: flip 5');
    expect(summary).toMatchObject({ type: 'breaker', level: 'warn' });

    // Nothing held back since: a second flush adds nothing.
    time = 5_000;
    throttled.flush();
    expect(log.recent()).toHaveLength(3);

    // A new interval logs again.
    throttled.log('breaker', 'breaker', 'warn', 'flip 6');
    expect(log.recent().at(-1)!.message).toBe('flip 6');
  });

  it('throttles each key on its own, with a per-call limit', () => {
    const log = createEventLog();
    const throttled = createThrottledLog(log, { limit: 10, now: () => 0 });
    for (let index = 0; index < 3; index += 1) {
      throttled.log('noisy', 'connectError', 'error', 'refused', 1);
      throttled.log('quiet', 'connectionCreated', 'info', 'opened');
    }
    expect(log.recent().filter((event) => event.type === 'connectError')).toHaveLength(1);
    expect(log.recent().filter((event) => event.type === 'connectionCreated')).toHaveLength(3);
  });
});
