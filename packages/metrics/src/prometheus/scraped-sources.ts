/** One source's figures for the scrape in progress, under its label value. */
export interface LabelledSnapshot<TSnapshot> {
  /** The `pool` or `breaker` label value. */
  readonly label: string;
  readonly snapshot: TSnapshot;
}

/**
 * The sources one set of metric objects reports on. Every metric of the set reads the same
 * snapshot during a scrape, so one scrape makes one `getStats()` call per pool (not one per
 * metric) and its figures agree with each other (idle + active, a histogram's count and
 * `acquired_total`).
 */
export interface ScrapedSources<TSnapshot> {
  /** Sources registered. */
  readonly size: number;
  has(label: string): boolean;
  add(label: string, read: () => TSnapshot): void;
  delete(label: string): void;
  /** Every source's figures, read at most once per scrape, in registration order. */
  read(): readonly LabelledSnapshot<TSnapshot>[];
}

/**
 * `registry.metrics()` calls every metric's `collect()`/`get()` synchronously before its first
 * `await`, so a snapshot kept until the next microtask is shared by exactly one scrape and never
 * outlives it: no timer, and nothing is read between scrapes.
 */
export function createScrapedSources<TSnapshot>(): ScrapedSources<TSnapshot> {
  const readers = new Map<string, () => TSnapshot>();
  let current: readonly LabelledSnapshot<TSnapshot>[] | undefined;
  const forget = (): void => {
    current = undefined;
  };
  return {
    get size() {
      return readers.size;
    },
    has: (label) => readers.has(label),
    add(label, read) {
      readers.set(label, read);
      current = undefined;
    },
    delete(label) {
      readers.delete(label);
      current = undefined;
    },
    read() {
      if (current === undefined) {
        const snapshots: LabelledSnapshot<TSnapshot>[] = [];
        for (const [label, read] of readers) snapshots.push({ label, snapshot: read() });
        current = snapshots;
        queueMicrotask(forget);
      }
      return current;
    },
  };
}
