import { Counter, Gauge } from 'prom-client';

/** Sets one series of the metric being collected. */
export type EmitSample<TLabel extends string> = (
  labels: Readonly<Record<TLabel, string>>,
  value: number,
) => void;

/**
 * A metric and its name: prom-client's typings do not declare `name` on its metric classes, and
 * the metric set needs it to check the registry before registering.
 */
export interface NamedMetric<TMetric> {
  readonly name: string;
  readonly metric: TMetric;
}

/** A prom-client metric whose every series is rebuilt from the sources at scrape time. */
export interface ScrapedMetricConfig<TLabel extends string> {
  /** The full metric name, prefix included. */
  readonly name: string;
  /** What the metric counts, for `# HELP`. */
  readonly help: string;
  readonly labelNames: readonly TLabel[];
  /** Emits every series, once per scrape. */
  readonly collect: (emit: EmitSample<TLabel>) => void;
}

/**
 * A prom-client `Gauge` filled in `collect()`. It starts from `reset()` each time, so the series
 * of a disposed pool disappear with it instead of freezing at their last value. Registered
 * nowhere (`registers: []`): the metric set registers it once the names are known to be free.
 */
export function createScrapedGauge<TLabel extends string>(
  config: ScrapedMetricConfig<TLabel>,
): NamedMetric<Gauge<TLabel>> {
  const { collect } = config;
  const metric = new Gauge<TLabel>({
    name: config.name,
    help: config.help,
    labelNames: config.labelNames,
    registers: [],
    collect(this: Gauge<TLabel>) {
      this.reset();
      collect((labels, value) => this.set(labels, value));
    },
  });
  return { name: config.name, metric };
}

/**
 * A prom-client `Counter` filled in `collect()` from the source's running totals. prom-client
 * counters only go up through `inc()`, so each scrape resets and increments once by the total:
 * the rendered value is the source's own counter, never a sum of deltas we would have to keep.
 */
export function createScrapedCounter<TLabel extends string>(
  config: ScrapedMetricConfig<TLabel>,
): NamedMetric<Counter<TLabel>> {
  const { collect } = config;
  const metric = new Counter<TLabel>({
    name: config.name,
    help: config.help,
    labelNames: config.labelNames,
    registers: [],
    collect(this: Counter<TLabel>) {
      this.reset();
      collect((labels, value) => this.inc(labels, value));
    },
  });
  return { name: config.name, metric };
}
