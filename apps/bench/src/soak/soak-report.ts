import { formatMachine, type MachineInfo } from '../machine.js';

/** One invariant, its figure and what broke it. */
export interface InvariantResult {
  readonly name: string;
  readonly ok: boolean;
  /** The measured figure, e.g. `slowest 2003 ms of 41,230 acquires (limit 2100 ms)`. */
  readonly figure: string;
  /** What was seen when it broke (first few). */
  readonly violations: readonly string[];
}

/** Everything a soak measured. */
export interface SoakReport {
  readonly seed: number;
  readonly minutes: number;
  readonly machine: MachineInfo;
  readonly invariants: readonly InvariantResult[];
  /** Errors to callers by kind: [kind, count, expected]. */
  readonly errors: readonly (readonly [string, number, boolean])[];
  /** Faults by kind: [kind, count, total ms, detail]. */
  readonly faults: readonly (readonly [string, number, number, string])[];
  /** Calls by operation: [operation, calls, ok, failed]. */
  readonly operations: readonly (readonly [string, number, number, number])[];
  /** Configuration and context lines, printed under the tables. */
  readonly notes: readonly string[];
  /** Every invariant held. */
  readonly ok: boolean;
}

const number = (value: number): string => value.toLocaleString('en-US');

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const escapeCell = (cell: string): string => cell.replaceAll('|', '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)];
}

/** The report as markdown: invariants first, then errors, faults, load and notes. */
export function renderSoakReport(report: SoakReport): string {
  const lines = [
    `### Soak: ${report.minutes} min, seed ${report.seed}: ${report.ok ? 'every invariant held' : 'INVARIANT BROKEN'}`,
    '',
    `_${formatMachine(report.machine)}_`,
    '',
    ...table(
      ['invariant', 'figure', 'result'],
      report.invariants.map((invariant) => [
        invariant.name,
        invariant.figure,
        invariant.ok ? 'ok' : `**broken**: ${invariant.violations.join('; ')}`,
      ]),
    ),
    '',
    ...table(
      ['error to callers', 'count', 'expected'],
      report.errors.length === 0
        ? [['(none)', '0', '']]
        : report.errors.map(([kind, count, expected]) => [
            kind,
            number(count),
            expected ? 'yes' : '**no**',
          ]),
    ),
    '',
    ...table(
      ['fault', 'count', 'total ms', 'detail'],
      report.faults.map(([kind, count, ms, detail]) => [kind, number(count), number(ms), detail]),
    ),
    '',
    ...table(
      ['operation', 'calls', 'ok', 'failed'],
      report.operations.map(([name, calls, ok, failed]) => [
        name,
        number(calls),
        number(ok),
        number(failed),
      ]),
    ),
    '',
    ...report.notes.map((note) => `- ${note}`),
  ];
  return `${lines.join('\n')}\n`;
}
