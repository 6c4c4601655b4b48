/**
 * A small seeded generator (mulberry32): the same seed gives the same fault schedule and the
 * same choices per worker, so a run that broke an invariant can be replayed.
 */
export interface SeededRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** A float in [min, max). */
  between(min: number, max: number): number;
  /** `true` with probability `p`. */
  chance(p: number): boolean;
  /** One of `items`, each weighted by its `weight`. */
  weighted<T>(items: readonly { readonly value: T; readonly weight: number }[]): T;
  /** A new, independent generator derived from this one's seed and `stream`. */
  fork(stream: number): SeededRandom;
}

/** The largest seed; seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

/** Creates a generator from an unsigned 32-bit seed. */
export function createSeededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const random: SeededRandom = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    between: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    weighted(items) {
      let total = 0;
      for (const item of items) total += item.weight;
      let point = next() * total;
      for (const item of items) {
        point -= item.weight;
        if (point < 0) return item.value;
      }
      return items[items.length - 1]!.value;
    },
    // Mixing the stream into the seed (a 32-bit hash step) keeps forks apart from each other.
    fork: (stream) =>
      createSeededRandom(Math.imul((seed ^ (stream * 0x9e3779b1)) >>> 0, 0x85ebca6b)),
  };
  return random;
}
