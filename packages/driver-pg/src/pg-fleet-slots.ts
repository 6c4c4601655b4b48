import type {
  DriverCallOptions,
  FleetSlotBudget,
  FleetSlotClaim,
  FleetSlotCount,
  FleetSlots,
} from '@enhanced-pool/core';
import type { PgClientLike } from './pg-client-like.js';

/** Runs one statement on a client, bounded by the caller's signal and the driver's deadline. */
export type PgRun = (
  client: PgClientLike,
  sql: string,
  params: unknown[],
  signal: AbortSignal,
) => Promise<readonly Record<string, unknown>[]>;

/** Everything the slot statements need from the driver around them. */
export interface PgFleetSlotsParts {
  readonly run: PgRun;
  /**
   * Opens a separate client for the one-time pooler check, and closes it. Rejects like
   * `connect()` does.
   */
  readonly withProbeClient: <T>(
    signal: AbortSignal,
    use: (client: PgClientLike) => Promise<T>,
  ) => Promise<T>;
  readonly random: () => number;
}

/**
 * The budget's granted locks: `(key, slot)` two-integer advisory locks (`objsubid` 2) in this
 * database, with how many of them the backend running the statement holds itself.
 */
const LOOK = `SELECT pg_backend_pid() AS pid,
  count(*) FILTER (WHERE l.pid = pg_backend_pid())::int4 AS mine,
  count(*)::int4 AS taken
FROM pg_locks AS l
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = $1::int4::oid AND l.objid < $2::int4::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

/**
 * One round trip: first the look (a materialized CTE, so its snapshot of `pg_locks` is taken
 * before any lock), then, only if the backend holds no slot yet (`CASE` evaluates its branch
 * lazily), the slots in turn from a random offset, so processes that claim together don't all
 * contend for slot 0. `LIMIT 1` stops at the first lock taken, so at most one is held;
 * `pg_try_advisory_lock` never waits. `slot` is null when none was free.
 */
const CLAIM = `WITH before AS MATERIALIZED (${LOOK})
SELECT before.pid, before.mine,
  CASE WHEN before.mine = 0 THEN (
    SELECT slot FROM (
      SELECT ((g + $3::int4) % $2::int4)::int4 AS slot FROM generate_series(0, $2::int4 - 1) AS g
    ) AS candidates
    WHERE pg_try_advisory_lock($1::int4, slot)
    LIMIT 1
  ) END AS slot
FROM before`;

interface Look {
  readonly pid: number;
  readonly mine: number;
  readonly taken: number;
}

const SHARED_SERVER =
  'session advisory locks do not stay with the connection: it runs on a server session that ' +
  'other clients share (a pooler in transaction or statement mode, e.g. PgBouncer with ' +
  'pool_mode = transaction). Point the pool at PostgreSQL itself or at a session-mode pooler';

/**
 * The PostgreSQL side of the pool's `fleetBudget`: each connection claims one slot as a session
 * advisory lock on `(key, slot)`, which PostgreSQL releases when the session ends, however it
 * ends (close, crash, `kill -9` of the process, a network partition noticed by the server).
 *
 * A slot is only safe when the lock stays with the client's session, so every claim checks,
 * with separate statements, that it does:
 * 1. before claiming, the backend serving the connection holds no slot of this budget (a fresh
 *    PostgreSQL session never does; behind a transaction-mode pooler, the server connection
 *    may be one another client just used to claim);
 * 2. after claiming, a second statement runs on the same backend (`pg_backend_pid()`), which
 *    holds exactly the one slot;
 * 3. once per driver, when the backend's pid differs from the process id the server announced
 *    at connect (PgBouncer and other poolers announce their own), a second client opens a
 *    transaction between the claim and the check of 2. A transaction-mode pooler hands that
 *    transaction the server connection the claim just released (PgBouncer reuses the most
 *    recently released one first), so the probe finds the lock on its own backend, or the
 *    check of 2 finds the claim's backend taken. A session-mode pooler passes: it gives each
 *    client its own server connection until it disconnects, and its `DISCARD ALL` then frees
 *    the lock.
 * Any failed check answers `unsupported`, and the lock taken is released where it can be.
 * `countFree()` repeats check 2, so a pooler that starts sharing server connections later is
 * noticed at the next count.
 */
export function createPgFleetSlots<TClient extends PgClientLike>(
  parts: PgFleetSlotsParts,
): FleetSlots<TClient> {
  const { run, withProbeClient, random } = parts;
  /** The backend and slot each claimed connection holds. */
  const claims = new WeakMap<PgClientLike, { pid: number; slot: number }>();
  let poolerChecked = false;

  const look = async (
    client: PgClientLike,
    budget: FleetSlotBudget,
    signal: AbortSignal,
  ): Promise<Look> => {
    const [row] = await run(client, LOOK, [budget.key, budget.slots], signal);
    return { pid: Number(row?.pid), mine: Number(row?.mine), taken: Number(row?.taken) };
  };

  const release = async (client: PgClientLike, budget: FleetSlotBudget, slot: number) => {
    const signal = AbortSignal.timeout(1_000);
    await run(client, 'SELECT pg_advisory_unlock($1::int4, $2::int4)', [budget.key, slot], signal)
      // Best effort: the pool closes the connection anyway, which ends a direct session.
      .catch(() => {});
  };

  return {
    async claim(
      client: TClient,
      budget: FleetSlotBudget,
      { signal }: DriverCallOptions,
    ): Promise<FleetSlotClaim> {
      const offset = Math.floor(random() * budget.slots);
      const [row] = await run(client, CLAIM, [budget.key, budget.slots, offset], signal);
      const before = { pid: Number(row?.pid), mine: Number(row?.mine) };
      if (before.mine > 0) {
        return {
          status: 'unsupported',
          detail: `a new connection's server session already held ${before.mine} slot(s) of budget ${budget.key}: ${SHARED_SERVER}`,
        };
      }
      if (row?.slot === null || row?.slot === undefined) return { status: 'full', free: 0 };
      const slot = Number(row.slot);
      let probeSaw = 0;
      const behindPooler = typeof client.processID === 'number' && client.processID !== before.pid;
      let after: Look | undefined;
      try {
        if (behindPooler && !poolerChecked) {
          await withProbeClient(signal, async (probe) => {
            await run(probe, 'BEGIN', [], signal);
            probeSaw = (await look(probe, budget, signal)).mine;
            after = await look(client, budget, signal);
            await run(probe, 'ROLLBACK', [], signal);
          });
        }
        after ??= await look(client, budget, signal);
      } catch (error) {
        await release(client, budget, slot);
        throw error;
      }
      if (probeSaw > 0 || after.pid !== before.pid || after.mine !== 1) {
        await release(client, budget, slot);
        const seen =
          probeSaw > 0
            ? "another client's transaction ran on the server session holding this connection's slot"
            : `the slot taken on server session ${before.pid} was not held by session ${after.pid} serving the next statement`;
        return { status: 'unsupported', detail: `${seen}: ${SHARED_SERVER}` };
      }
      if (behindPooler) poolerChecked = true;
      claims.set(client, { pid: before.pid, slot });
      return { status: 'claimed', slot, free: Math.max(0, budget.slots - after.taken) };
    },

    async countFree(
      client: TClient,
      budget: FleetSlotBudget,
      { signal }: DriverCallOptions,
    ): Promise<FleetSlotCount> {
      const seen = await look(client, budget, signal);
      const claim = claims.get(client);
      if (claim !== undefined && (seen.pid !== claim.pid || seen.mine !== 1)) {
        return {
          status: 'unsupported',
          detail: `the connection's slot ${claim.slot} (server session ${claim.pid}) was not held by session ${seen.pid} serving the count: ${SHARED_SERVER}`,
        };
      }
      return { status: 'counted', free: Math.max(0, budget.slots - seen.taken) };
    },
  };
}
