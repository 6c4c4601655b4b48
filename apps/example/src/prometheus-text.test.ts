import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.js';

describe('parsePrometheusText', () => {
  it('reads families, their type and help, and samples with labels, histograms included', () => {
    const families = parsePrometheusText(
      [
        '# HELP up Whether it is up.',
        '# TYPE up gauge',
        'up{pool="a",state="idle"} 2',
        '# TYPE wait_seconds histogram',
        'wait_seconds_bucket{le="0.1"} 3',
        'wait_seconds_bucket{le="+Inf"} 4',
        'wait_seconds_sum 0.25',
        'wait_seconds_count 4',
        '',
      ].join('\n'),
    );
    expect(families.get('up')).toEqual({
      type: 'gauge',
      help: 'Whether it is up.',
      samples: [{ name: 'up', labels: { pool: 'a', state: 'idle' }, value: 2 }],
    });
    expect(families.get('wait_seconds')?.samples.map((sample) => sample.name)).toEqual([
      'wait_seconds_bucket',
      'wait_seconds_bucket',
      'wait_seconds_sum',
      'wait_seconds_count',
    ]);
  });

  it.each([
    ['a sample of an undeclared metric', 'nobody 1', /undeclared/],
    ['a bad value', '# TYPE x gauge\nx one', /bad value/],
    ['bad labels', '# TYPE x gauge\nx{a=1} 1', /bad labels/],
    ['an unknown type', '# TYPE x thing', /unknown type/],
    ['garbage', '# TYPE x gauge\n{x} 1', /not a sample/],
  ])('refuses %s, naming the line', (_what, text, message) => {
    expect(() => parsePrometheusText(text)).toThrow(message);
  });
});
