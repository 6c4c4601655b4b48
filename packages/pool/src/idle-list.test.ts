import { describe, expect, it } from 'vitest';
import { IdleList } from './idle-list.js';
import { ConnectionRecord, IDLE, LEASED } from './pooled-connection.js';

function record(id: number): ConnectionRecord<string> {
  const created = new ConnectionRecord(`connection-${id}`, id, 0, Number.POSITIVE_INFINITY);
  created.state = LEASED;
  return created;
}

/** The ids oldest to newest, walking `newer`, checked against the walk back along `older`. */
function ids(list: IdleList<string>): number[] {
  const forward: number[] = [];
  for (let current = list.oldest; current !== undefined; current = current.newer) {
    forward.push(current.id);
  }
  const backward: number[] = [];
  for (let current = list.newest; current !== undefined; current = current.older) {
    backward.push(current.id);
  }
  expect(backward.reverse()).toEqual(forward);
  expect(list.count).toBe(forward.length);
  return forward;
}

describe('IdleList', () => {
  it('starts empty', () => {
    const list = new IdleList<string>();
    expect(list.oldest).toBeUndefined();
    expect(list.newest).toBeUndefined();
    expect(ids(list)).toEqual([]);
  });

  it('links each connection at the newest end and marks it IDLE', () => {
    const list = new IdleList<string>();
    const [first, second, third] = [record(1), record(2), record(3)];
    list.link(first);
    list.link(second);
    list.link(third);
    expect(ids(list)).toEqual([1, 2, 3]);
    expect(list.oldest).toBe(first);
    expect(list.newest).toBe(third);
    expect([first.state, second.state, third.state]).toEqual([IDLE, IDLE, IDLE]);
  });

  it('unlinks from the middle in place, clearing the removed node', () => {
    const list = new IdleList<string>();
    const [first, middle, last] = [record(1), record(2), record(3)];
    for (const each of [first, middle, last]) list.link(each);
    list.unlink(middle);
    expect(ids(list)).toEqual([1, 3]);
    expect(middle.older).toBeUndefined();
    expect(middle.newer).toBeUndefined();
    // The caller decides the next state.
    expect(middle.state).toBe(IDLE);
  });

  it('unlinks either end and the only element', () => {
    const list = new IdleList<string>();
    const [first, middle, last] = [record(1), record(2), record(3)];
    for (const each of [first, middle, last]) list.link(each);
    list.unlink(first);
    expect(ids(list)).toEqual([2, 3]);
    expect(list.oldest).toBe(middle);
    list.unlink(last);
    expect(ids(list)).toEqual([2]);
    expect(list.newest).toBe(middle);
    list.unlink(middle);
    expect(ids(list)).toEqual([]);
    expect(list.oldest).toBeUndefined();
    expect(list.newest).toBeUndefined();
  });

  it('relinks a connection as the newest, with no stale neighbour links', () => {
    const list = new IdleList<string>();
    const [first, second, third] = [record(1), record(2), record(3)];
    for (const each of [first, second, third]) list.link(each);
    list.unlink(first);
    list.link(first);
    expect(ids(list)).toEqual([2, 3, 1]);
    expect(first.newer).toBeUndefined();
    expect(first.older).toBe(third);
  });
});
