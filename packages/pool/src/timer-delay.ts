/** The longest delay a Node timer accepts; longer ones fire after 1 ms instead. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * A delay Node's timers accept: never negative, whole milliseconds rounded up (a timer that
 * fires a fraction early would find its deadline not yet passed), and at most the 32-bit limit,
 * past which Node would fire after 1 ms instead.
 */
export function timerDelay(ms: number): number {
  return ms <= 0 ? 0 : ms >= MAX_TIMER_DELAY_MS ? MAX_TIMER_DELAY_MS : Math.ceil(ms);
}
