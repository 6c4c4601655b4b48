import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { createCircuitBreaker } from '@enhanced-pool/circuit-breaker';
import { createPool } from '@enhanced-pool/pool';
import { createFakeDriver } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createOtelHarness } from '../../test/otel-harness.js';
import { instrumentBreaker, instrumentPool } from './index.js';

// The package README's OpenTelemetry section: its example must run and print what it shows.
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const SECTION = README.slice(README.indexOf('## OpenTelemetry'));

/** What the example may import, keyed by the specifier it uses (this package from source). */
const MODULES: Record<string, () => Promise<Record<string, unknown>>> = {
  '@enhanced-pool/metrics/opentelemetry': () => import('./index.js'),
  '@enhanced-pool/pool': () => import('@enhanced-pool/pool'),
  '@enhanced-pool/testing': () => import('@enhanced-pool/testing'),
  '@opentelemetry/sdk-metrics': () => import('@opentelemetry/sdk-metrics'),
};

function example(): { code: string; printed: string } {
  const code = /### Example[\s\S]*?```ts\n([\s\S]*?)```/.exec(SECTION)?.[1];
  const printed = /It prints[\s\S]*?```\n([\s\S]*?)```/.exec(SECTION)?.[1];
  if (code === undefined || printed === undefined) {
    throw new Error('README.md: the OpenTelemetry example or its printed output is missing');
  }
  return { code, printed };
}

describe('README section', () => {
  it('the example runs and prints what the section shows', async () => {
    const { code, printed } = example();
    const bindings = new Map<string, unknown>();
    const imports = /^import \{([^}]*)\} from '([^']+)';\n/gm;
    for (const [, names = '', specifier = ''] of code.matchAll(imports)) {
      const load = MODULES[specifier];
      if (load === undefined) throw new Error(`the example imports ${specifier}`);
      const module = await load();
      for (const name of names.split(',').map((part) => part.trim())) {
        if (name === '') continue;
        if (!(name in module)) throw new Error(`${specifier} has no export ${name}`);
        bindings.set(name, module[name]);
      }
    }
    const lines: string[] = [];
    const console = {
      log: (...values: unknown[]) =>
        lines.push(
          values.map((value) => (typeof value === 'string' ? value : inspect(value))).join(' '),
        ),
    };
    const AsyncFunction = (async () => {}).constructor as new (
      ...parameters: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const run = new AsyncFunction(...bindings.keys(), 'console', code.replace(imports, ''));
    await run(...bindings.values(), console);
    expect(`${lines.join('\n')}\n`).toBe(printed);
  });

  it('its table lists every instrument with the kind and unit the SDK reports', async () => {
    const rows = [...SECTION.matchAll(/^\| `([a-z_.]+)` +\| (\w+) +\| `([^`]+)` +\|/gm)].map(
      ([, name, kind, unit]) => ({ name, kind, unit }),
    );
    const harness = createOtelHarness();
    const pool = createPool({ name: 'orders', driver: createFakeDriver(), minSize: 0 });
    try {
      instrumentPool(pool, harness.meter);
      instrumentBreaker(createCircuitBreaker(), harness.meter);
      await pool.withConnection(async () => {});
      const metrics = await harness.collect();
      expect(rows).toEqual(
        metrics.map((metric) => ({
          name: metric.descriptor.name,
          kind: harness.kinds.get(metric.descriptor.name),
          unit: metric.descriptor.unit,
        })),
      );
    } finally {
      await pool.close();
      await harness.shutdown();
    }
  });
});
