import type { Meter } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';

/**
 * A real SDK pipeline for the OpenTelemetry exporter's tests: a `MeterProvider` whose periodic
 * reader never fires on its own (an hour), so each `collect()` is one on-demand `forceFlush()`
 * into the SDK's in-memory exporter, with cumulative temporality as Prometheus-style backends
 * read it. No test waits for an interval.
 */
export interface OtelHarness {
  /** A meter that also records which `create*` method made each instrument. */
  readonly meter: Meter;
  /** Instrument name to the `Meter` method that created it, e.g. `ObservableUpDownCounter`. */
  readonly kinds: ReadonlyMap<string, string>;
  /** Runs one collection and returns its metrics (earlier exports are dropped). */
  collect(): Promise<readonly MetricData[]>;
  shutdown(): Promise<void>;
}

export function createOtelHarness(): OtelHarness {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const kinds = new Map<string, string>();
  const meter = recordingKinds(provider.getMeter('enhanced-pool-test'), kinds);
  return {
    meter,
    kinds,
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      return exporter
        .getMetrics()
        .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
    },
    shutdown: () => provider.shutdown(),
  };
}

/** Wraps `meter` so every `createXxx(name, ...)` call records `Xxx` under `name`. */
function recordingKinds(meter: Meter, kinds: Map<string, string>): Meter {
  return new Proxy(meter, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !property.startsWith('create')) return value;
      if (typeof value !== 'function') return value;
      return (name: string, ...rest: unknown[]): unknown => {
        kinds.set(name, property.slice('create'.length));
        return Reflect.apply(value, target, [name, ...rest]);
      };
    },
  });
}

/** The metric called `name`; throws (naming what was there) when the collection lacks it. */
export function metricNamed(metrics: readonly MetricData[], name: string): MetricData {
  const found = metrics.find((metric) => metric.descriptor.name === name);
  if (found === undefined) {
    const names = metrics.map((metric) => metric.descriptor.name).join(', ');
    throw new Error(`no metric ${name} in the collection (got: ${names || 'none'})`);
  }
  return found;
}

/** A sum's or gauge's points as `{ attributes, value }`, for `toEqual`. */
export function numberPoints(
  metric: MetricData,
): readonly { readonly attributes: Readonly<Record<string, unknown>>; readonly value: number }[] {
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    throw new Error(`${metric.descriptor.name} is a histogram`);
  }
  if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
    throw new Error(`${metric.descriptor.name} is an exponential histogram`);
  }
  return metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value }));
}

/** A histogram's single point: count, sum, min, max and per-bucket counts with their bounds. */
export function histogramPoint(metric: MetricData): {
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly count: number;
  readonly sum: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly boundaries: readonly number[];
  readonly counts: readonly number[];
} {
  if (metric.dataPointType !== DataPointType.HISTOGRAM) {
    throw new Error(`${metric.descriptor.name} is not a histogram`);
  }
  if (metric.dataPoints.length !== 1) {
    throw new Error(`${metric.descriptor.name} has ${metric.dataPoints.length} points, not 1`);
  }
  const point = metric.dataPoints[0]!;
  return {
    attributes: point.attributes,
    count: point.value.count,
    sum: point.value.sum,
    min: point.value.min,
    max: point.value.max,
    boundaries: point.value.buckets.boundaries,
    counts: point.value.buckets.counts,
  };
}

/** `{ kind, unit, dataPointType, isMonotonic }` of a metric, to compare with the convention. */
export function shapeOf(
  harness: OtelHarness,
  metric: MetricData,
): {
  readonly kind: string | undefined;
  readonly unit: string;
  readonly dataPointType: DataPointType;
  readonly isMonotonic: boolean | undefined;
} {
  return {
    kind: harness.kinds.get(metric.descriptor.name),
    unit: metric.descriptor.unit,
    dataPointType: metric.dataPointType,
    isMonotonic: metric.dataPointType === DataPointType.SUM ? metric.isMonotonic : undefined,
  };
}
