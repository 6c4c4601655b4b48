/**
 * What a liveness or readiness probe needs to know about a pool. Plain figures, so the rules
 * below are shared by the pool's `isLive()` / `isReady()` and by anyone wiring their own probes.
 */
export interface ProbeState {
  /** The pool was closed (or is closing). */
  readonly closed: boolean;
  /** The connection breaker's state, when the pool has one. */
  readonly breakerState?: string | undefined;
}

/** A readiness verdict with its reasons in words (empty when ready), for a probe's body. */
export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/**
 * Liveness: true unless the pool is closed. It never looks at the database on purpose: a
 * Kubernetes liveness failure restarts the process, and restarting every replica because the
 * database is down only adds a thundering herd of reconnects to the outage.
 */
export function isLive(state: Pick<ProbeState, 'closed'>): boolean {
  return !state.closed;
}

/**
 * Readiness: the pool is open and its breaker is not open (nor forced open, `isolated`), so a
 * caller can be served, from an idle connection or a new one. While the breaker is open new
 * connections fail fast, so the replica should be taken out of rotation; `half-open` counts as
 * ready, since the pool is probing and recovers on the first success.
 */
export function checkReadiness(state: ProbeState): Readiness {
  const reasons: string[] = [];
  if (state.closed) reasons.push('pool is closed');
  if (state.breakerState === 'open' || state.breakerState === 'isolated') {
    reasons.push(`connection breaker is ${state.breakerState}`);
  }
  return { ready: reasons.length === 0, reasons };
}

/** {@link checkReadiness} without the reasons. */
export function isReady(state: ProbeState): boolean {
  return checkReadiness(state).ready;
}
