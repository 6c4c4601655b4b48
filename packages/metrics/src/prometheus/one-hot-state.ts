import type { EmitSample } from './scraped-metric.js';

/**
 * Emits one series per known state, 1 for `current` and 0 for the others, so a dashboard can
 * sum or alert on `state="open"` without parsing a string. A state outside `states` (from a
 * newer breaker) sets none: label values stay a closed set.
 */
export function emitOneHotState<TLabel extends string>(
  emit: EmitSample<TLabel | 'state'>,
  labels: Readonly<Record<TLabel, string>>,
  states: readonly string[],
  current: string,
): void {
  for (const state of states) emit({ ...labels, state }, state === current ? 1 : 0);
}
