import type { CallerErrorKind } from './caller-errors.js';

/** Errors to callers, counted by kind and split into expected and unexpected. */
export class ErrorTally {
  readonly expected = new Map<CallerErrorKind, number>();
  readonly unexpected = new Map<CallerErrorKind, number>();
  /** First few unexpected errors, with their message, for the report. */
  readonly examples: string[] = [];

  record(kind: CallerErrorKind, expected: boolean, detail: () => string): void {
    const counts = expected ? this.expected : this.unexpected;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    if (!expected && this.examples.length < 8) this.examples.push(`${kind}: ${detail()}`);
  }

  total(which: 'expected' | 'unexpected'): number {
    let sum = 0;
    for (const count of this[which].values()) sum += count;
    return sum;
  }
}
