import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as breakerPackage from './index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The code block of the `execute()` example and the output block the README shows for it. */
function readmeExample(): { code: string; printed: string } {
  const section = README.slice(README.indexOf('## Example: `execute()`'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  const printed = /It prints this on fake timers[\s\S]*?```\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined || printed === undefined) {
    throw new Error('README: the execute() example or its printed output is missing');
  }
  return { code, printed };
}

describe('README', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the execute() example prints what the README shows, on fake timers', async () => {
    const { code, printed } = readmeExample();
    const lines: string[] = [];
    const console = {
      log: (...values: unknown[]) =>
        lines.push(
          values.map((value) => (typeof value === 'string' ? value : inspect(value))).join(' '),
        ),
    };
    const body = code.replace(/^import .*;\n/m, '');
    const AsyncFunction = (async () => {}).constructor as new (
      ...parameters: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const run = new AsyncFunction('createCircuitBreaker', 'isBrokenCircuitError', 'console', body);

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const finished = run(
      breakerPackage.createCircuitBreaker,
      breakerPackage.isBrokenCircuitError,
      console,
    );
    await vi.runAllTimersAsync();
    await finished;

    expect(`${lines.join('\n')}\n`).toBe(printed);
  });
});
