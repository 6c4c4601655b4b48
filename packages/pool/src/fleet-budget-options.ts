import {
  type Driver,
  type FleetSlots,
  InvalidOptionError,
  numberOption,
} from '@enhanced-pool/core';
import { MAX_TIMER_DELAY_MS } from './timer-delay.js';

/**
 * A connection budget shared by every process that uses the same `key` on the same database:
 * together they hold at most `slots` connections. Each physical connection claims one slot
 * through the database itself (with `@enhanced-pool/driver-pg`, a session advisory lock on
 * `(key, slot)`), so a slot is free again the moment its connection or its whole process dies,
 * with no coordinator to configure or keep alive.
 *
 * How the pool keeps to it:
 * - it looks before opening: free slots are counted on a connection it already holds, and no
 *   connection is opened while none is free (callers wait within their `acquireTimeoutMs`, as
 *   at `maxSize`, and the pool looks again every `recheckMs` while someone waits);
 * - it claims one connection at a time, and closes at once a new connection that finds no slot
 *   (another process took the last one first): the excess is brief and at most one connection
 *   per process;
 * - it refuses a connection that can't hold a slot for its lifetime, such as one through
 *   PgBouncer in transaction mode: connects fail with `FleetBudgetUnsupportedError` and no
 *   connection is pooled (see `docs/pgbouncer.md`).
 *
 * Slots are not tied to `maxSize`: a pool never holds more than `maxSize` connections, and
 * the fleet never more than `slots` (plus, for a moment, one per process).
 */
export interface FleetBudgetOptions {
  /** How many connections the whole fleet may hold: an integer from 1 to 1 000 000. */
  readonly slots: number;
  /**
   * Names the budget on the database; every process of the fleet must use the same one, and
   * nothing else on that database may take advisory locks with it. An integer from 0 to
   * 2 147 483 647, or a non-empty string (hashed to such an integer).
   */
  readonly key: number | string;
  /**
   * While callers wait and no slot is free, how often the pool looks again (jittered by
   * ±20 %) on a connection it holds, so slots freed by other processes are used within about
   * this long. A pool that holds no connection can only look by opening one (over the budget
   * for a round trip when the fleet is still full), so after one such miss it looks every
   * 8 × `recheckMs` instead.
   * @default 1_000
   */
  readonly recheckMs?: number;
}

/** {@link FleetBudgetOptions} with defaults applied and a string key hashed. */
export interface ResolvedFleetBudget {
  readonly slots: number;
  readonly key: number;
  readonly recheckMs: number;
}

const KEYS: ReadonlySet<string> = new Set(['slots', 'key', 'recheckMs']);
const MAX_KEY = 2_147_483_647;

/** FNV-1a over UTF-16 code units, folded to 31 bits: stable across processes and versions. */
export function hashFleetKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & MAX_KEY;
}

/** Whether `driver` offers the slot statements a budget needs. */
export function fleetSlotsOf<TConnection>(
  driver: Driver<TConnection>,
): FleetSlots<TConnection> | undefined {
  const slots = (driver as { readonly fleetSlots?: Partial<FleetSlots<TConnection>> }).fleetSlots;
  return typeof slots?.claim === 'function' && typeof slots.countFree === 'function'
    ? (slots as FleetSlots<TConnection>)
    : undefined;
}

/**
 * Validates the `fleetBudget` option: each field names its path, value and range in the
 * `InvalidOptionError`; a driver without the slot capability is refused here, at construction.
 */
export function resolveFleetBudget<TConnection>(
  value: unknown,
  driver: Driver<TConnection>,
): ResolvedFleetBudget | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionError('fleetBudget', value, 'an object { slots, key, recheckMs? }');
  }
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!KEYS.has(name)) {
      throw new InvalidOptionError(`fleetBudget.${name}`, record[name], 'no such option');
    }
  }
  if (record.slots === undefined) {
    throw new InvalidOptionError('fleetBudget.slots', undefined, 'an integer ≥ 1 and ≤ 1000000');
  }
  const slots = numberOption('fleetBudget.slots', record.slots, 0, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const rawKey = record.key;
  let key: number;
  if (typeof rawKey === 'string' && rawKey.length > 0) key = hashFleetKey(rawKey);
  else if (
    typeof rawKey === 'number' &&
    Number.isInteger(rawKey) &&
    rawKey >= 0 &&
    rawKey <= MAX_KEY
  ) {
    key = rawKey;
  } else {
    throw new InvalidOptionError(
      'fleetBudget.key',
      rawKey,
      `an integer ≥ 0 and ≤ ${MAX_KEY}, or a non-empty string`,
    );
  }
  const recheckMs = numberOption('fleetBudget.recheckMs', record.recheckMs, 1_000, {
    min: 10,
    max: MAX_TIMER_DELAY_MS,
  });
  if (fleetSlotsOf(driver) === undefined) {
    throw new InvalidOptionError(
      'fleetBudget',
      value,
      `a driver offering fleet slots (driver "${driver.name}" has no fleetSlots; ` +
        '@enhanced-pool/driver-pg has)',
    );
  }
  return { slots, key, recheckMs };
}
