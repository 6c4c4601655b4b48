/**
 * The writes acknowledged to callers, kept as aggregates (count and two sums) so that a run of
 * any length holds constant memory: the table at the end must hold exactly these rows, apart
 * from the writes whose COMMIT was sent but not answered (in doubt: either outcome is right).
 */
export class WriteLedger {
  acknowledged = 0;
  /** Sum of the acknowledged rows' ids. */
  idSum = 0;
  /** Sum of the acknowledged rows' values. */
  valueSum = 0;
  /** Ids whose COMMIT was sent and then failed: the server may or may not have committed them. */
  readonly inDoubt: number[] = [];
  /** Transactions that failed before COMMIT was sent: their rows must not exist. */
  failedBeforeCommit = 0;
  private nextId = 1;

  /** A fresh row id (ids are never reused, so every row is told apart). */
  take(): number {
    return this.nextId++;
  }

  acknowledge(id: number, value: number): void {
    this.acknowledged += 1;
    this.idSum += id;
    this.valueSum += value;
  }

  doubt(id: number): void {
    this.inDoubt.push(id);
  }

  failed(): void {
    this.failedBeforeCommit += 1;
  }
}

/** What the table holds, read once at the end, without the in-doubt rows. */
export interface TableContents {
  readonly rows: number;
  readonly idSum: number;
  readonly valueSum: number;
  /** In-doubt ids found in the table. */
  readonly inDoubtCommitted: number;
  /** Sum of the per-worker counters the same transactions incremented. */
  readonly counterSum: number;
  /** Every row, in-doubt ones included. */
  readonly allRows: number;
}

/** Compares the ledger with the table: missing rows, extra rows, a checksum that differs. */
export function compareWrites(ledger: WriteLedger, table: TableContents): string[] {
  const problems: string[] = [];
  if (table.rows < ledger.acknowledged) {
    problems.push(
      `${ledger.acknowledged - table.rows} acknowledged write(s) missing: ${ledger.acknowledged} acknowledged, ${table.rows} in the table`,
    );
  } else if (table.rows > ledger.acknowledged) {
    problems.push(
      `${table.rows - ledger.acknowledged} row(s) in the table that no caller was told were written (failed before COMMIT)`,
    );
  }
  if (table.idSum !== ledger.idSum || table.valueSum !== ledger.valueSum) {
    problems.push(
      `checksum differs: ids ${table.idSum} vs ${ledger.idSum} acknowledged, values ${table.valueSum} vs ${ledger.valueSum}`,
    );
  }
  if (table.counterSum !== table.allRows) {
    problems.push(
      `counters say ${table.counterSum} inserts committed, the table has ${table.allRows} rows: a transaction committed in part`,
    );
  }
  return problems;
}
