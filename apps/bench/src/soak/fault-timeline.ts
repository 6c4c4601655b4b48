import { type CallerErrorKind, EXPECTED_ERRORS } from './caller-errors.js';
import type { FaultKind } from './fault-schedule.js';

interface FaultSpan {
  readonly kind: FaultKind;
  readonly startedAt: number;
  endedAt: number;
}

/**
 * Which faults were running when, so an error can be judged: expected if the call overlapped a
 * fault (or the `recoveryMs` after it) that causes that kind. Only spans that can still matter
 * are kept, so a long run holds a handful, not thousands.
 */
export class FaultTimeline {
  private readonly spans: FaultSpan[] = [];
  private readonly recoveryMs: number;

  /** @param recoveryMs how long after a fault ends its errors still count as its own. */
  constructor(recoveryMs: number) {
    this.recoveryMs = recoveryMs;
  }

  /** Marks a fault as running from `at`; returns the function that marks its end. */
  begin(kind: FaultKind, at: number): (endedAt: number) => void {
    const span: FaultSpan = { kind, startedAt: at, endedAt: Number.POSITIVE_INFINITY };
    this.spans.push(span);
    return (endedAt) => {
      span.endedAt = endedAt;
    };
  }

  /** Whether a call running from `startedAt` to `settledAt` may fail with `kind`. */
  expects(kind: CallerErrorKind, startedAt: number, settledAt: number): boolean {
    this.prune(settledAt);
    for (const span of this.spans) {
      if (span.startedAt > settledAt || span.endedAt + this.recoveryMs < startedAt) continue;
      if (EXPECTED_ERRORS[span.kind].includes(kind)) return true;
    }
    return false;
  }

  /** Faults running now. */
  active(): FaultKind[] {
    return this.spans
      .filter((span) => span.endedAt === Number.POSITIVE_INFINITY)
      .map((s) => s.kind);
  }

  private prune(now: number): void {
    // Calls last at most a few seconds; spans over a minute past their recovery can't match.
    const horizon = now - this.recoveryMs - 60_000;
    while (this.spans.length > 0 && this.spans[0]!.endedAt < horizon) this.spans.shift();
  }
}
