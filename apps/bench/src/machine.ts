import os from 'node:os';

/** What a figure was measured on: printed under every table, because ratios travel badly. */
export interface MachineInfo {
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly date: string;
}

/** Reads the machine line once per run. */
export function describeMachine(now: Date = new Date()): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    date: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/** `Node v20.20.2 · <CPU> · 2 cores · 2025-01-01T00:00:00Z` */
export function formatMachine(machine: MachineInfo): string {
  return `Node ${machine.node} · ${machine.cpu} · ${machine.cores} cores · ${machine.date}`;
}
