/**
 * An exponentially weighted moving average whose weights come from elapsed time instead of
 * sample count.
 *
 * A per-sample average treats a sample taken 5 ms after the last one like one taken after a
 * second, so sampling more often would make it react faster. Here a sample covering `elapsedMs`
 * gets weight `1 − 2^(−elapsedMs / halfLifeMs)`: the result depends on the load over time, not on
 * how often someone looked, and irregular sampling (a late tick, an extra on-demand sample) is
 * handled without special cases.
 */
export interface TimeWeightedAverage {
  /** The current average; `undefined` before the first sample. */
  readonly value: number | undefined;
  /**
   * Folds in a measurement that describes the last `elapsedMs`. The first measurement becomes
   * the average as is.
   */
  update(measurement: number, elapsedMs: number): number;
  /** Forgets every measurement. */
  reset(): void;
}

/** Creates a {@link TimeWeightedAverage} that halves a past measurement's weight every `halfLifeMs`. */
export function createTimeWeightedAverage(halfLifeMs: number): TimeWeightedAverage {
  let value: number | undefined;
  return {
    get value() {
      return value;
    },
    update(measurement: number, elapsedMs: number): number {
      if (value === undefined) {
        value = measurement;
      } else if (elapsedMs > 0) {
        const weight = 1 - 2 ** (-elapsedMs / halfLifeMs);
        value += weight * (measurement - value);
      }
      return value;
    },
    reset(): void {
      value = undefined;
    },
  };
}
