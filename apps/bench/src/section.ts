import type { Table } from './table.js';

/** A section that could not run, and why (e.g. PostgreSQL would not start): printed, never dropped. */
export interface Unavailable {
  readonly title: string;
  readonly unavailable: string;
}

/** What a section hands the printer. */
export type SectionOutput = readonly (Table | Unavailable)[];

export function isUnavailable(output: Table | Unavailable): output is Unavailable {
  return 'unavailable' in output;
}
