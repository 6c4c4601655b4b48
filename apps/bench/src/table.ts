import { formatMachine, type MachineInfo } from './machine.js';

/** One printable table: a markdown pipe table plus the lines that say how it was measured. */
export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Method and configuration notes, printed under the table. */
  readonly notes?: readonly string[];
}

/** Renders a table as markdown, with the machine line the figures came from. */
export function renderTable(table: Table, machine: MachineInfo): string {
  const escapeCell = (cell: string): string => cell.replaceAll('|', '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  const lines = [
    `### ${table.title}`,
    '',
    `_${formatMachine(machine)}_`,
    '',
    line(table.headers),
    line(table.headers.map(() => '---')),
    ...table.rows.map(line),
  ];
  if (table.notes && table.notes.length > 0) {
    lines.push('', ...table.notes.map((note) => `- ${note}`));
  }
  return `${lines.join('\n')}\n`;
}

/** A section that could not run (no PostgreSQL here): said, never hidden. */
export function renderUnavailable(title: string, reason: string): string {
  return `### ${title}\n\nnot available: ${reason}\n`;
}

/** `12.3 M`, `845 k`, `912`: operations per second at a glance. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e4) return `${(perSecond / 1e3).toFixed(0)} k`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(0);
}

/** A ratio with two decimals and a multiplication sign: `2.41×`. */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a';
}

/** Milliseconds with a precision that suits their size. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

/** Bytes as `1.23 MB` / `456 kB` / `789 B` (decimal units). */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const size = Math.abs(bytes);
  if (size >= 1e6) return `${sign}${(size / 1e6).toFixed(2)} MB`;
  if (size >= 1e3) return `${sign}${(size / 1e3).toFixed(1)} kB`;
  return `${sign}${size.toFixed(0)} B`;
}
