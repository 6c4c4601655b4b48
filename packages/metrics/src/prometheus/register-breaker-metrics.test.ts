import { createCircuitBreaker } from '@enhanced-pool/circuit-breaker';
import { InvalidOptionError } from '@enhanced-pool/core';
import { createFakeClock } from '@enhanced-pool/testing';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { BreakerMetricsSource } from '../sources.js';
import { registerBreakerMetrics, registerPoolMetrics } from './index.js';

type BreakerFigures = ReturnType<BreakerMetricsSource['metrics']>;

function scriptedBreaker(overrides: Partial<BreakerFigures> = {}) {
  let figures: BreakerFigures = {
    name: 'payments',
    state: 'open',
    calls: 60,
    successes: 40,
    failures: 15,
    ignored: 5,
    slowCalls: 3,
    rejections: 21,
    probeTimeouts: 2,
    failureRate: 0.25,
    ...overrides,
  };
  const metrics = vi.fn(() => figures);
  const update = (changes: Partial<BreakerFigures>): void => {
    figures = { ...figures, ...changes };
  };
  return { breaker: { metrics } satisfies BreakerMetricsSource, metrics, update };
}

function linesOf(text: string): string[] {
  return text.split('\n');
}

describe('registerBreakerMetrics on a scripted breaker', () => {
  it('renders the state, the call counters and the failure rate', async () => {
    const registry = new Registry();
    registerBreakerMetrics(scriptedBreaker().breaker, registry);
    const text = await registry.metrics();
    expect(text).toBe(
      [
        "# HELP enhanced_breaker_state 1 for the breaker's current state (closed, open, half-open, isolated), 0 for the others.",
        '# TYPE enhanced_breaker_state gauge',
        'enhanced_breaker_state{breaker="payments",state="closed"} 0',
        'enhanced_breaker_state{breaker="payments",state="open"} 1',
        'enhanced_breaker_state{breaker="payments",state="half-open"} 0',
        'enhanced_breaker_state{breaker="payments",state="isolated"} 0',
        '',
        "# HELP enhanced_breaker_calls_total Admitted calls that settled, by outcome: success, failure (counted against the dependency) or ignored (said nothing about the dependency's health).",
        '# TYPE enhanced_breaker_calls_total counter',
        'enhanced_breaker_calls_total{breaker="payments",outcome="success"} 40',
        'enhanced_breaker_calls_total{breaker="payments",outcome="failure"} 15',
        'enhanced_breaker_calls_total{breaker="payments",outcome="ignored"} 5',
        '',
        '# HELP enhanced_breaker_slow_calls_total Successes and failures slower than slowCallDurationMs.',
        '# TYPE enhanced_breaker_slow_calls_total counter',
        'enhanced_breaker_slow_calls_total{breaker="payments"} 3',
        '',
        '# HELP enhanced_breaker_rejections_total Calls the breaker refused (open, isolated, or half-open with every trial permit taken).',
        '# TYPE enhanced_breaker_rejections_total counter',
        'enhanced_breaker_rejections_total{breaker="payments"} 21',
        '',
        '# HELP enhanced_breaker_probe_timeouts_total Half-open trial calls that did not settle within halfOpenProbeTimeoutMs (counted as failures).',
        '# TYPE enhanced_breaker_probe_timeouts_total counter',
        'enhanced_breaker_probe_timeouts_total{breaker="payments"} 2',
        '',
        "# HELP enhanced_breaker_failure_rate Failures per call in the breaker's window, from 0 to 1 (for a consecutive window: the failure run over its threshold).",
        '# TYPE enhanced_breaker_failure_rate gauge',
        'enhanced_breaker_failure_rate{breaker="payments"} 0.25',
        '',
      ].join('\n'),
    );
  });

  it('reads metrics() once per scrape, at scrape time', async () => {
    const registry = new Registry();
    const { breaker, metrics, update } = scriptedBreaker();
    registerBreakerMetrics(breaker, registry);
    // Once at registration, for the default label.
    expect(metrics).toHaveBeenCalledTimes(1);
    await registry.metrics();
    expect(metrics).toHaveBeenCalledTimes(2);
    update({ state: 'half-open', rejections: 22 });
    const lines = linesOf(await registry.metrics());
    expect(metrics).toHaveBeenCalledTimes(3);
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="half-open"} 1');
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="open"} 0');
    expect(lines).toContain('enhanced_breaker_rejections_total{breaker="payments"} 22');
  });

  it('labels with options.name, else the breaker name, else "breaker"', async () => {
    const registry = new Registry();
    registerBreakerMetrics(scriptedBreaker().breaker, registry, { name: 'payments-eu' });
    registerBreakerMetrics(scriptedBreaker().breaker, registry);
    registerBreakerMetrics(scriptedBreaker({ name: undefined }).breaker, registry);
    const text = await registry.metrics();
    expect(text).toContain('enhanced_breaker_rejections_total{breaker="payments-eu"} 21');
    expect(text).toContain('enhanced_breaker_rejections_total{breaker="payments"} 21');
    expect(text).toContain('enhanced_breaker_rejections_total{breaker="breaker"} 21');
  });

  it('refuses a second breaker with the same name on one registry', () => {
    const registry = new Registry();
    registerBreakerMetrics(scriptedBreaker().breaker, registry);
    expect(() => registerBreakerMetrics(scriptedBreaker().breaker, registry)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option: 'name', value: 'payments' }),
    );
    expect(() =>
      registerBreakerMetrics(scriptedBreaker({ name: 'other' }).breaker, registry, {
        name: 'payments',
      }),
    ).toThrow(InvalidOptionError);
    expect(() => registerBreakerMetrics(scriptedBreaker().breaker, registry, { name: '' })).toThrow(
      InvalidOptionError,
    );
  });

  it('dispose removes that breaker, and the metric names with the last one', async () => {
    const registry = new Registry();
    const payments = registerBreakerMetrics(scriptedBreaker().breaker, registry);
    const search = registerBreakerMetrics(scriptedBreaker({ name: 'search' }).breaker, registry);
    payments.dispose();
    const text = await registry.metrics();
    expect(text).not.toContain('breaker="payments"');
    expect(text).toContain('enhanced_breaker_calls_total{breaker="search",outcome="success"} 40');
    search.dispose();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('shares a registry with pool metrics without a name clash', async () => {
    const registry = new Registry();
    registerBreakerMetrics(scriptedBreaker().breaker, registry);
    registerPoolMetrics(
      {
        name: 'orders',
        getStats: () => {
          throw new Error('not scraped in this test');
        },
        on: () => ({ dispose() {} }),
      },
      registry,
    );
    expect(registry.getSingleMetric('enhanced_breaker_state')).toBeDefined();
    expect(registry.getSingleMetric('enhanced_pool_breaker_state')).toBeDefined();
    expect(await registry.getSingleMetricAsString('enhanced_breaker_state')).toContain(
      'enhanced_breaker_state{breaker="payments",state="open"} 1',
    );
  });
});

describe('registerBreakerMetrics on a real breaker', () => {
  it('follows a breaker through closed, open and a half-open trial that times out', async () => {
    const clock = createFakeClock();
    const breaker = createCircuitBreaker({
      name: 'payments',
      clock,
      window: { kind: 'count', size: 10 },
      minimumCalls: 4,
      failureRateThreshold: 0.5,
      slowCallDurationMs: 100,
      openDurationMs: 1_000,
      halfOpenProbeTimeoutMs: 500,
    });
    const registry = new Registry();
    registerBreakerMetrics(breaker, registry);
    const admit = () => {
      const permit = breaker.tryAcquire();
      if (permit instanceof Error) throw permit;
      return permit;
    };

    admit().success(10);
    admit().success(150);
    admit().ignore();
    admit().failure(new Error('ECONNREFUSED'), 10);
    let lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="closed"} 1');
    expect(lines).toContain('enhanced_breaker_calls_total{breaker="payments",outcome="success"} 2');
    expect(lines).toContain('enhanced_breaker_calls_total{breaker="payments",outcome="failure"} 1');
    expect(lines).toContain('enhanced_breaker_calls_total{breaker="payments",outcome="ignored"} 1');
    expect(lines).toContain('enhanced_breaker_slow_calls_total{breaker="payments"} 1');
    expect(lines).toContain(`enhanced_breaker_failure_rate{breaker="payments"} ${1 / 3}`);

    // 2 failures in 4 calls: open; the next call is refused.
    admit().failure(new Error('ECONNREFUSED'), 10);
    expect(breaker.tryAcquire()).toBeInstanceOf(Error);
    lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="open"} 1');
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="closed"} 0');
    expect(lines).toContain('enhanced_breaker_calls_total{breaker="payments",outcome="failure"} 2');
    expect(lines).toContain('enhanced_breaker_rejections_total{breaker="payments"} 1');
    expect(lines).toContain('enhanced_breaker_probe_timeouts_total{breaker="payments"} 0');

    // Half-open after the open period; the one trial never settles.
    clock.advance(1_000);
    const trial = admit();
    expect(trial.trial).toBe(true);
    lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="half-open"} 1');
    clock.advance(500);
    lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="open"} 1');
    expect(lines).toContain('enhanced_breaker_probe_timeouts_total{breaker="payments"} 1');
    expect(lines).toContain('enhanced_breaker_calls_total{breaker="payments",outcome="failure"} 3');

    const isolation = breaker.isolate();
    lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_breaker_state{breaker="payments",state="isolated"} 1');
    isolation.dispose();
  });
});
