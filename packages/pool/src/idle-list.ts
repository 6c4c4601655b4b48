import { type ConnectionRecord, IDLE } from './pooled-connection.js';

/**
 * The idle connections, as an intrusive doubly linked list through the records themselves
 * (`older` / `newer`): linking and unlinking allocate nothing, and removing one from the middle
 * (the reaper, a health check) is O(1). Released connections join at the newest end; the pool
 * hands out from the newest end (`lifo`) or the oldest (`fifo`), and the reaper walks from the
 * oldest.
 */
export class IdleList<TConnection> {
  oldest: ConnectionRecord<TConnection> | undefined = undefined;
  newest: ConnectionRecord<TConnection> | undefined = undefined;
  count = 0;

  /** Makes it the newest idle connection, marked IDLE. */
  link(record: ConnectionRecord<TConnection>): void {
    record.state = IDLE;
    const newest = this.newest;
    record.older = newest;
    record.newer = undefined;
    if (newest === undefined) this.oldest = record;
    else newest.newer = record;
    this.newest = record;
    this.count++;
  }

  /** Takes it out of the list; the caller sets its next state. */
  unlink(record: ConnectionRecord<TConnection>): void {
    const { older, newer } = record;
    if (older === undefined) this.oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.newest = older;
    else newer.older = older;
    record.older = undefined;
    record.newer = undefined;
    this.count--;
  }
}
