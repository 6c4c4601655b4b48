import { MAX_TIMER_DELAY_MS } from './pool-options.js';

/**
 * A delay Node's timers accept: never negative, whole milliseconds rounded up (a timer that
 * fires a fraction early would find its deadline not yet passed), and at most the 32-bit limit,
 * past which Node would fire after 1 ms instead.
 */
export function timerDelay(ms: number): number {
  return ms <= 0 ? 0 : ms >= MAX_TIMER_DELAY_MS ? MAX_TIMER_DELAY_MS : Math.ceil(ms);
}
