import { type Disposable, InvalidOptionError, toDisposable } from '@enhanced-pool/core';
import type { Metric, Registry, RegistryContentType } from 'prom-client';
import type { ScrapedHistogram } from './scraped-histogram.js';
import { createScrapedSources, type ScrapedSources } from './scraped-sources.js';

/** A Prometheus or an OpenMetrics registry: the exporters render into either. */
export type AnyRegistry = Registry<RegistryContentType>;

/** A metric object a set registers (prom-client's own, or a histogram rendered from buckets). */
export interface RegistrableMetric {
  readonly name: string;
  readonly metric: Metric | ScrapedHistogram;
}

export interface MetricSetsConfig<TSnapshot> {
  /** Builds one set of metric objects, named with `prefix`, reading every source of `sources`. */
  readonly createMetrics: (
    prefix: string,
    sources: ScrapedSources<TSnapshot>,
  ) => readonly RegistrableMetric[];
  /** The error for a second source under a label value already registered. */
  readonly duplicateLabel: (label: string) => Error;
}

/** Every metric set of one exporter kind, one per registry and prefix. */
export interface MetricSets<TSnapshot> {
  /**
   * Adds a source to the set of `registry` and `prefix`, creating and registering that set on
   * first use. The handle removes the source, and the metric names with the last one.
   */
  attach(registry: AnyRegistry, prefix: string, label: string, read: () => TSnapshot): Disposable;
}

interface MetricSet<TSnapshot> {
  readonly sources: ScrapedSources<TSnapshot>;
  readonly metrics: readonly RegistrableMetric[];
}

/**
 * A metric name can be registered once per registry, so several pools share one set of metric
 * objects and are told apart by label. Keyed weakly: a registry dropped by its owner takes its
 * sets with it.
 */
export function createMetricSets<TSnapshot>(
  config: MetricSetsConfig<TSnapshot>,
): MetricSets<TSnapshot> {
  const byRegistry = new WeakMap<AnyRegistry, Map<string, MetricSet<TSnapshot>>>();

  const open = (registry: AnyRegistry, prefix: string): MetricSet<TSnapshot> => {
    let sets = byRegistry.get(registry);
    if (sets === undefined) {
      sets = new Map();
      byRegistry.set(registry, sets);
    }
    const existing = sets.get(prefix);
    if (existing !== undefined) return existing;
    const sources = createScrapedSources<TSnapshot>();
    const metrics = config.createMetrics(prefix, sources);
    // Checked before registering any, so a refused prefix leaves the registry as it was.
    for (const metric of metrics) {
      if (registry.getSingleMetric(metric.name) !== undefined) {
        throw new InvalidOptionError(
          'prefix',
          prefix,
          `a prefix whose metric names are free on this registry ("${metric.name}" is taken)`,
        );
      }
    }
    for (const { metric } of metrics) registry.registerMetric(asPromClientMetric(metric));
    const set = { sources, metrics };
    sets.set(prefix, set);
    return set;
  };

  const close = (registry: AnyRegistry, prefix: string, set: MetricSet<TSnapshot>): void => {
    for (const { name, metric } of set.metrics) {
      // Only our own object: after `registry.clear()` the name may belong to someone else.
      if (registry.getSingleMetric(name) === asPromClientMetric(metric)) {
        registry.removeSingleMetric(name);
      }
    }
    byRegistry.get(registry)?.delete(prefix);
  };

  return {
    attach(registry, prefix, label, read) {
      const set = open(registry, prefix);
      if (set.sources.has(label)) throw config.duplicateLabel(label);
      set.sources.add(label, read);
      return toDisposable(() => {
        set.sources.delete(label);
        if (set.sources.size === 0) close(registry, prefix, set);
      });
    },
  };
}

/**
 * prom-client 15 types `registerMetric()` as taking one of its four classes, though its registry
 * reads only `name`, `type`, `help`, `get()` and `reset()` (lib/registry.js), and it types a
 * metric's `type` as a numeric enum where the runtime writes the string `'histogram'`. The
 * histogram object matches what the registry reads; only the declared type is widened here.
 */
function asPromClientMetric(metric: RegistrableMetric['metric']): Metric {
  return metric as unknown as Metric;
}
