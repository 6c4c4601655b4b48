import { InvalidOptionError } from '@enhanced-pool/core';
import {
  type AdaptiveSizerOptions,
  type ResolvedAdaptiveSizerOptions,
  resolveAdaptiveSizerOptions,
} from './adaptive-sizer-options.js';
import { createTimeWeightedAverage } from './time-weighted-average.js';

/**
 * What the pool saw since the previous sample. The four counts are a snapshot taken now; the
 * optional figures describe the whole interval since the previous sample and make the estimate
 * far better: a snapshot only shows whatever instant the tick landed on, an interval average
 * can't be fooled by a burst that came and went between ticks.
 */
export interface LoadSample {
  /** Connections the pool holds now (idle + in use + being validated). */
  readonly size: number;
  /** Connections lent out now. */
  readonly active: number;
  /** Connections ready to lend now. */
  readonly idle: number;
  /** Callers waiting for a connection now. */
  readonly pending: number;
  /** Acquires that got a connection since the previous sample: the arrival rate's numerator. */
  readonly acquired?: number;
  /** Mean time (ms) those acquires waited in the queue. */
  readonly waitMs?: number;
  /** Mean time (ms) the leases released since the previous sample were held. */
  readonly holdMs?: number;
  /**
   * When the sample was taken, on the sizer's clock.
   * @default clock.now()
   */
  readonly at?: number;
}

/** Which way a decision moves the pool. `grow` iff `targetSize > current`, `shrink` iff below. */
export type SizingAction = 'grow' | 'shrink' | 'hold';

/** What the pool should do now, and why, in figures an operator can log. */
export interface SizingDecision {
  /** The size the pool should have now, in `[minSize, maxSize]` unless the breaker blocks growth. */
  readonly targetSize: number;
  /** The size of the last sample (0 before any sample). */
  readonly current: number;
  readonly action: SizingAction;
  /** The rule that decided, in words with the figures it used. */
  readonly reason: string;
  /** Smoothed connections in use divided by `current` (0 when `current` is 0). */
  readonly utilization: number;
  /** Smoothed demand: connections in use plus callers waiting (Little's law where possible). */
  readonly demand: number;
  /** `demand / targetUtilization` rounded up, before `minSize` and `maxSize` apply. */
  readonly estimatedNeed: number;
}

/** Facts from outside the load figures that limit a decision. */
export interface SizingContext {
  /**
   * The connection breaker is open: the database is considered unreachable, so the sizer never
   * asks for new connections (each would be a doomed connect). Shrinking is still allowed.
   */
  readonly breakerOpen?: boolean;
}

/**
 * Decides the pool size from load samples. Pure apart from the injected clock: no timers, no
 * I/O, so the pool owns the schedule (observe and decide on its sizing tick) and tests replay
 * load traces deterministically.
 */
export interface AdaptiveSizer {
  /** The resolved options, defaults applied. */
  readonly options: ResolvedAdaptiveSizerOptions;
  /** Feeds one sample. Call it on every sizing tick (e.g. each second), and on demand if useful. */
  observe(sample: LoadSample): void;
  /**
   * The size the pool should have now, with the reason. Calling it commits the decision (shrink
   * spacing counts from it), so call it once per tick and act on the result: create connections
   * up to `targetSize`, or retire `current − targetSize` idle ones.
   */
  decide(context?: SizingContext): SizingDecision;
  /** Forgets every sample and cooldown, as after the pool was drained. */
  reset(): void;
}

/** Rounds up, ignoring float noise such as `7 / 0.7 = 10.000000000000002`. */
function ceilNeed(demand: number, targetUtilization: number): number {
  return Math.max(0, Math.ceil(demand / targetUtilization - 1e-9));
}

function figure(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function requireCount(name: string, value: unknown): number {
  if (value === undefined || typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidOptionError(`sample.${name}`, value, 'an integer ≥ 0');
  }
  return value;
}

function optionalDuration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(`sample.${name}`, value, 'a finite number ≥ 0 (milliseconds)');
  }
  return value;
}

function validateSample(sample: LoadSample): void {
  if (typeof sample !== 'object' || sample === null) {
    throw new InvalidOptionError('sample', sample, 'a LoadSample object');
  }
  requireCount('size', sample.size);
  requireCount('active', sample.active);
  requireCount('idle', sample.idle);
  requireCount('pending', sample.pending);
  if (sample.acquired !== undefined) requireCount('acquired', sample.acquired);
  optionalDuration('waitMs', sample.waitMs);
  optionalDuration('holdMs', sample.holdMs);
  if (sample.at !== undefined && (typeof sample.at !== 'number' || !Number.isFinite(sample.at))) {
    throw new InvalidOptionError('sample.at', sample.at, 'a finite number (clock milliseconds)');
  }
}

/**
 * Connections in use and callers waiting over the interval. Little's law (L = λ·W) turns the
 * arrival rate and the mean hold or wait into the mean number in use or waiting, which is what
 * the pool needs to serve. It is only trusted when the interval is at least as long as the time
 * it averages; otherwise (long holds, a stuck queue, a sample moments after the last) the
 * snapshot is the better witness.
 */
function measureDemand(
  sample: LoadSample,
  elapsedMs: number | undefined,
): { inUse: number; waiting: number } {
  const rate =
    elapsedMs !== undefined && elapsedMs > 0 && sample.acquired !== undefined && sample.acquired > 0
      ? sample.acquired / elapsedMs
      : undefined;
  const inUse =
    rate !== undefined && sample.holdMs !== undefined && sample.holdMs <= (elapsedMs as number)
      ? rate * sample.holdMs
      : sample.active;
  const waiting =
    rate !== undefined && sample.waitMs !== undefined && sample.waitMs <= (elapsedMs as number)
      ? rate * sample.waitMs
      : sample.pending;
  return { inUse, waiting };
}

/**
 * Creates an adaptive sizer: the "dynamic pool sizing" of the seed design.
 *
 * Demand (connections in use plus callers waiting) is tracked by two time-weighted averages:
 * growth follows the fast one and jumps straight to `demand / targetUtilization`; shrinking
 * follows the slow one, and only after utilisation stayed below `shrinkUtilization` for
 * `shrinkCooldownMs`, retiring at most `maxShrinkStep` idle connections per
 * `shrinkStepIntervalMs`. Fast up, slow down, and a dead band between the two thresholds: a
 * steady load never makes the pool go back and forth.
 *
 * @example
 * const sizer = createAdaptiveSizer({ minSize: 2, maxSize: 50 });
 * sizer.observe({ size: 2, active: 2, idle: 0, pending: 30, acquired: 200, waitMs: 150, holdMs: 10 });
 * sizer.decide(); // { action: 'grow', targetSize: 46, … }
 */
export function createAdaptiveSizer(options: AdaptiveSizerOptions = {}): AdaptiveSizer {
  const resolved = resolveAdaptiveSizerOptions(options);
  const { clock, minSize, maxSize, targetUtilization, shrinkUtilization } = resolved;

  const fastInUse = createTimeWeightedAverage(resolved.growthHalfLifeMs);
  const fastWaiting = createTimeWeightedAverage(resolved.growthHalfLifeMs);
  const slowInUse = createTimeWeightedAverage(resolved.shrinkHalfLifeMs);
  const slowWaiting = createTimeWeightedAverage(resolved.shrinkHalfLifeMs);

  let lastSample: LoadSample | undefined;
  let lastAt: number | undefined;
  /** Since when demand has been continuously low; `undefined` while it is not. */
  let lowSince: number | undefined;
  /** A shrink episode: retire step by step until the size fits the demand. */
  let shrinking = false;
  let lastShrinkAt = Number.NEGATIVE_INFINITY;
  /**
   * Fast demand over the last `shrinkCooldownMs`, as a monotonic queue whose head is the peak.
   * A shrink stops at what that peak needs (like Kubernetes' scale-down stabilisation window), so
   * the noise peaks of a steady load don't grow back what a shrink just retired.
   */
  const recentDemand: { at: number; demand: number }[] = [];

  const fastDemand = (): number => (fastInUse.value ?? 0) + (fastWaiting.value ?? 0);
  const slowDemand = (): number => (slowInUse.value ?? 0) + (slowWaiting.value ?? 0);

  const reset = (): void => {
    for (const average of [fastInUse, fastWaiting, slowInUse, slowWaiting]) average.reset();
    lastSample = undefined;
    lastAt = undefined;
    lowSince = undefined;
    shrinking = false;
    lastShrinkAt = Number.NEGATIVE_INFINITY;
    recentDemand.length = 0;
  };

  const rememberDemand = (at: number, demand: number): void => {
    while (recentDemand.length > 0 && (recentDemand.at(-1)?.demand ?? 0) <= demand) {
      recentDemand.pop();
    }
    recentDemand.push({ at, demand });
    while ((recentDemand[0]?.at ?? at) < at - resolved.shrinkCooldownMs) recentDemand.shift();
  };

  const observe = (sample: LoadSample): void => {
    validateSample(sample);
    const at = sample.at ?? clock.now();
    // A timestamp older than the last one describes no new interval: keep the snapshot only.
    const elapsedMs = lastAt === undefined ? undefined : Math.max(0, at - lastAt);
    const { inUse, waiting } = measureDemand(sample, elapsedMs);
    fastInUse.update(inUse, elapsedMs ?? 0);
    fastWaiting.update(waiting, elapsedMs ?? 0);
    slowInUse.update(inUse, elapsedMs ?? 0);
    slowWaiting.update(waiting, elapsedMs ?? 0);
    lastAt = lastAt === undefined ? at : Math.max(lastAt, at);
    lastSample = sample;
    rememberDemand(lastAt, fastDemand());

    const size = sample.size;
    const low =
      size > 0 &&
      sample.pending === 0 &&
      fastDemand() / size < shrinkUtilization &&
      slowDemand() / size < shrinkUtilization;
    if (low) lowSince ??= at;
    else lowSince = undefined;
    if (sample.pending > 0) shrinking = false;
  };

  const decide = (context: SizingContext = {}): SizingDecision => {
    const now = clock.now();
    const current = lastSample?.size ?? 0;
    const idle = lastSample?.idle ?? 0;
    const demand = fastDemand();
    const estimatedNeed = ceilNeed(demand, targetUtilization);
    const utilization = current > 0 ? (fastInUse.value ?? 0) / current : 0;
    const decision = (targetSize: number, reason: string): SizingDecision => ({
      targetSize,
      current,
      action: targetSize > current ? 'grow' : targetSize < current ? 'shrink' : 'hold',
      reason,
      utilization,
      demand,
      estimatedNeed,
    });
    const demandText = `demand ${figure(demand)} needs ${estimatedNeed} at target utilisation ${targetUtilization}`;

    if (current > maxSize) {
      shrinking = false;
      return decision(maxSize, `size ${current} is above maxSize ${maxSize}`);
    }

    const wanted = Math.min(maxSize, Math.max(minSize, estimatedNeed));
    if (wanted > current) {
      const stepped = Math.max(minSize, Math.min(wanted, current + resolved.maxGrowthStep));
      if (context.breakerOpen) {
        return decision(current, `breaker open: growth to ${stepped} blocked (${demandText})`);
      }
      shrinking = false;
      lowSince = undefined;
      const why =
        current < minSize
          ? `size ${current} is below minSize ${minSize}`
          : estimatedNeed > maxSize
            ? `${demandText}, capped at maxSize ${maxSize}`
            : demandText;
      const capped = stepped < wanted ? `; at most ${resolved.maxGrowthStep} per decision` : '';
      return decision(stepped, `${why}${capped}`);
    }
    if (estimatedNeed > current) {
      return decision(current, `at maxSize ${maxSize}; ${demandText}`);
    }

    const cooledDown = lowSince !== undefined && now - lowSince >= resolved.shrinkCooldownMs;
    if (!shrinking && !cooledDown) {
      const low =
        lowSince === undefined
          ? `utilisation within the band (shrinks below ${shrinkUtilization})`
          : `demand low for ${Math.round(now - lowSince)} of ${resolved.shrinkCooldownMs} ms`;
      return decision(current, `${low}; ${demandText}`);
    }
    const peak = Math.max(demand, slowDemand(), recentDemand[0]?.demand ?? 0);
    const fits = Math.max(minSize, ceilNeed(peak, targetUtilization));
    if (fits >= current) {
      shrinking = false;
      return decision(current, `size fits the demand; ${demandText}`);
    }
    if (idle === 0) {
      return decision(current, `no idle connection to retire yet; ${demandText}`);
    }
    if (now - lastShrinkAt < resolved.shrinkStepIntervalMs) {
      return decision(
        current,
        `retiring gradually: one step per ${resolved.shrinkStepIntervalMs} ms`,
      );
    }
    shrinking = true;
    lastShrinkAt = now;
    const targetSize = Math.max(fits, current - idle, current - resolved.maxShrinkStep);
    return decision(
      targetSize,
      `demand stayed low (slow average ${figure(slowDemand())}, recent peak ${figure(peak)}); retiring idle connections toward ${fits}`,
    );
  };

  return { options: resolved, observe, decide, reset };
}
