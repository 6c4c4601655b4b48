/** The pool's side of a count comparison. */
export interface PoolCount {
  readonly poolSize: number;
  readonly connecting: number;
}

/**
 * A reading agrees when the pool did not change while the server was asked, and the server sees
 * the pool's open connections plus at most its connects in flight (a connect's backend appears
 * on the server before the pool counts the connection as open; a connect in flight counts
 * toward `maxSize`, so it is the pool's as much as an open one).
 */
function agrees(before: PoolCount, after: PoolCount, server: number): boolean {
  return (
    before.poolSize === after.poolSize &&
    before.connecting === after.connecting &&
    server >= before.poolSize &&
    server <= before.poolSize + before.connecting
  );
}

/**
 * After each fault ends, polls until the pool's connection count equals the server's
 * (`pg_stat_activity` by `application_name`) and records how long that took. A reading counts
 * only when the pool's figures were the same before and after the server was asked, so a
 * connection opening or closing mid-reading can't fake an agreement.
 */
export class CountAgreement {
  checked = 0;
  /** Checks cut short by the next fault starting before the counts agreed (and within the limit). */
  superseded = 0;
  late = 0;
  slowestMs = 0;
  readonly examples: string[] = [];
  private readonly readPool: () => PoolCount;
  private readonly readServer: () => Promise<number>;
  private readonly limitMs: number;
  private readonly now: () => number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(
    readPool: () => PoolCount,
    readServer: () => Promise<number>,
    limitMs: number,
    time: { now: () => number; wait: (ms: number) => Promise<void> } = {
      now: () => performance.now(),
      wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
  ) {
    this.readPool = readPool;
    this.readServer = readServer;
    this.limitMs = limitMs;
    this.now = time.now;
    this.wait = time.wait;
  }

  get limit(): number {
    return this.limitMs;
  }

  /**
   * Resolves once the counts agree, or the limit passed (a violation), or another fault began
   * within the limit (`nextFaultAt()` says when; the check is then superseded, since that
   * fault changes the counts again). `label` names the fault in the report.
   */
  async check(
    label: string,
    endedAt: number,
    nextFaultAt: () => number | undefined,
  ): Promise<void> {
    const interrupted = (): boolean => {
      const at = nextFaultAt();
      return at !== undefined && at - endedAt <= this.limitMs;
    };
    let last = '';
    for (;;) {
      const readAt = this.now();
      const before = this.readPool();
      let server: number;
      try {
        server = await this.readServer();
      } catch (error) {
        server = Number.NaN;
        last = `server count failed: ${(error as Error).message}`;
      }
      const after = this.readPool();
      const sinceEndMs = readAt - endedAt;
      if (agrees(before, after, server)) {
        this.checked += 1;
        if (sinceEndMs > this.slowestMs) this.slowestMs = sinceEndMs;
        if (sinceEndMs > this.limitMs) this.breach(label, sinceEndMs, 'agreed only', last);
        return;
      }
      if (!Number.isNaN(server)) {
        last = `pool ${before.poolSize}→${after.poolSize} (connecting ${before.connecting}→${after.connecting}), server ${server}`;
      }
      if (this.now() - endedAt > this.limitMs) {
        if (interrupted()) {
          this.superseded += 1;
          return;
        }
        this.checked += 1;
        this.breach(label, this.now() - endedAt, 'still differ', last);
        // Keep watching, so the report says whether and when they met.
        await this.settle(label, endedAt);
        return;
      }
      if (interrupted()) {
        this.superseded += 1;
        return;
      }
      await this.wait(20);
    }
  }

  /** After a breach, watches for up to 5 s more so the report can say when the counts met. */
  private async settle(label: string, endedAt: number): Promise<void> {
    const until = this.now() + 5_000;
    while (this.now() < until) {
      await this.wait(20);
      const before = this.readPool();
      const server = await this.readServer().catch(() => Number.NaN);
      const after = this.readPool();
      if (agrees(before, after, server)) {
        const index = this.examples.length - 1;
        if (index >= 0 && this.examples[index]!.startsWith(label)) {
          this.examples[index] += `; agreed after ${(this.now() - endedAt).toFixed(0)} ms`;
        }
        return;
      }
    }
  }

  private breach(label: string, sinceEndMs: number, how: string, last: string): void {
    this.late += 1;
    if (this.examples.length < 5) {
      this.examples.push(`${label}: ${how} ${sinceEndMs.toFixed(0)} ms after it ended (${last})`);
    }
  }
}
