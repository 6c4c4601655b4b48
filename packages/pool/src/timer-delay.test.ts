import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY_MS } from './pool-options.js';
import { timerDelay } from './timer-delay.js';

describe('timerDelay', () => {
  it('never returns a negative delay: a deadline already passed fires at once', () => {
    expect(timerDelay(-250)).toBe(0);
    expect(timerDelay(0)).toBe(0);
    expect(timerDelay(Number.NEGATIVE_INFINITY)).toBe(0);
  });

  it('rounds a fraction up, so the timer never fires before the deadline it stands for', () => {
    expect(timerDelay(0.2)).toBe(1);
    expect(timerDelay(99.01)).toBe(100);
    expect(timerDelay(100)).toBe(100);
  });

  it('caps at the 32-bit limit, past which Node would fire after 1 ms', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(2 ** 31 - 1);
    expect(timerDelay(MAX_TIMER_DELAY_MS - 1)).toBe(MAX_TIMER_DELAY_MS - 1);
    expect(timerDelay(MAX_TIMER_DELAY_MS)).toBe(MAX_TIMER_DELAY_MS);
    expect(timerDelay(MAX_TIMER_DELAY_MS + 0.5)).toBe(MAX_TIMER_DELAY_MS);
    expect(timerDelay(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_DELAY_MS);
  });
});
