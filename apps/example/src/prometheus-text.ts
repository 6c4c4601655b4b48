/** One sample line of the Prometheus text format. */
export interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: its `# TYPE`, `# HELP` and samples (histogram series included). */
export interface PrometheusFamily {
  readonly type: string;
  readonly help: string;
  readonly samples: PrometheusSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every line is a comment, a
 * `# HELP`, a `# TYPE` or a sample whose family was declared, with well-formed labels and a
 * number. Throws naming the line otherwise. For checking what `/metrics` serves.
 */
export function parsePrometheusText(text: string): Map<string, PrometheusFamily> {
  const families = new Map<string, PrometheusFamily>();
  const family = (name: string): PrometheusFamily => {
    let found = families.get(name);
    if (found === undefined) {
      found = { type: 'untyped', help: '', samples: [] };
      families.set(name, found);
    }
    return found;
  };
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1} ("${line.slice(0, 80)}")`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta === null) return; // A plain comment.
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`bad metric name at ${where}`);
      const entry = family(name);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`unknown type at ${where}`);
        families.set(name, { ...entry, type: rest });
      } else {
        families.set(name, { ...entry, help: rest });
      }
      return;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`not a sample at ${where}`);
    const [, name, labelText = '', valueText] = match as unknown as [
      string,
      string,
      string,
      string,
    ];
    const value = Number(valueText.replace(/^\+Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'));
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value at ${where}`);
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const label = LABEL.exec(labelText);
      if (label === null) throw new Error(`bad labels at ${where}`);
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c) =>
        c === 'n' ? '\n' : c,
      );
    }
    const base = SUFFIXES.reduce(
      (current, suffix) =>
        current === name && name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))
          ? name.slice(0, -suffix.length)
          : current,
      name,
    );
    const owner = families.get(base);
    if (owner === undefined) throw new Error(`sample of an undeclared metric at ${where}`);
    owner.samples.push({ name, labels, value });
  });
  return families;
}
