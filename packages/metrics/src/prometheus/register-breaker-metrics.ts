import { type Disposable, InvalidOptionError } from '@enhanced-pool/core';
import type { BreakerMetricsSource } from '../sources.js';
import { type AnyRegistry, createMetricSets, type RegistrableMetric } from './metric-sets.js';
import { emitOneHotState } from './one-hot-state.js';
import {
  type PrometheusBreakerMetricsOptions,
  resolveBreakerMetricsOptions,
} from './prometheus-options.js';
import { createScrapedCounter, createScrapedGauge } from './scraped-metric.js';
import type { ScrapedSources } from './scraped-sources.js';

type BreakerFigures = ReturnType<BreakerMetricsSource['metrics']>;

const BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated'] as const;

const breakerMetricSets = createMetricSets<BreakerFigures>({
  createMetrics: createBreakerMetrics,
  duplicateLabel: (label) =>
    new InvalidOptionError(
      'name',
      label,
      'a breaker name not yet registered on this registry (pass a distinct `name`)',
    ),
});

/**
 * Exposes a circuit breaker's state and call counters on a prom-client registry, labelled
 * `breaker="<name>"` (`options.name`, else the breaker's own name, else `breaker`). Each scrape
 * calls `breaker.metrics()` once; nothing runs in between, so an idle breaker still holds no
 * timer. A second breaker with the same name on one registry throws `InvalidOptionError`.
 */
export function registerBreakerMetrics(
  breaker: BreakerMetricsSource,
  registry: AnyRegistry,
  options?: PrometheusBreakerMetricsOptions,
): Disposable {
  const { name, prefix } = resolveBreakerMetricsOptions(options, breaker.metrics().name);
  return breakerMetricSets.attach(registry, prefix, name, () => breaker.metrics());
}

function createBreakerMetrics(
  prefix: string,
  sources: ScrapedSources<BreakerFigures>,
): readonly RegistrableMetric[] {
  const single = (read: (figures: BreakerFigures) => number) => ({
    labelNames: ['breaker'] as const,
    collect: (emit: (labels: { readonly breaker: string }, value: number) => void) => {
      for (const { label, snapshot } of sources.read()) emit({ breaker: label }, read(snapshot));
    },
  });
  return [
    createScrapedGauge({
      name: `${prefix}state`,
      help: "1 for the breaker's current state (closed, open, half-open, isolated), 0 for the others.",
      labelNames: ['breaker', 'state'],
      collect: (emit) => {
        for (const { label, snapshot } of sources.read()) {
          emitOneHotState(emit, { breaker: label }, BREAKER_STATES, snapshot.state);
        }
      },
    }),
    createScrapedCounter({
      name: `${prefix}calls_total`,
      help: "Admitted calls that settled, by outcome: success, failure (counted against the dependency) or ignored (said nothing about the dependency's health).",
      labelNames: ['breaker', 'outcome'],
      collect: (emit) => {
        for (const { label, snapshot } of sources.read()) {
          emit({ breaker: label, outcome: 'success' }, snapshot.successes);
          emit({ breaker: label, outcome: 'failure' }, snapshot.failures);
          emit({ breaker: label, outcome: 'ignored' }, snapshot.ignored);
        }
      },
    }),
    createScrapedCounter({
      name: `${prefix}slow_calls_total`,
      help: 'Successes and failures slower than slowCallDurationMs.',
      ...single((figures) => figures.slowCalls),
    }),
    createScrapedCounter({
      name: `${prefix}rejections_total`,
      help: 'Calls the breaker refused (open, isolated, or half-open with every trial permit taken).',
      ...single((figures) => figures.rejections),
    }),
    createScrapedCounter({
      name: `${prefix}probe_timeouts_total`,
      help: 'Half-open trial calls that did not settle within halfOpenProbeTimeoutMs (counted as failures).',
      ...single((figures) => figures.probeTimeouts),
    }),
    createScrapedGauge({
      name: `${prefix}failure_rate`,
      help: "Failures per call in the breaker's window, from 0 to 1 (for a consecutive window: the failure run over its threshold).",
      ...single((figures) => figures.failureRate),
    }),
  ];
}
