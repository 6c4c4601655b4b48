import type { FaultProxy, PostgresServer } from '@enhanced-pool/testing';
import type { AdminConnection } from './admin-connection.js';
import type { PlannedFault } from './fault-schedule.js';
import type { SeededRandom } from './seeded-random.js';

/** What faults act on. */
export interface FaultTargets {
  readonly server: PostgresServer;
  readonly proxy: FaultProxy;
  readonly admin: AdminConnection;
  /** The pool's `application_name`, to find its backends. */
  readonly applicationName: string;
  /** Opens and closes the window in which callers run statements past `statement_timeout`. */
  setSlowWindow(open: boolean): void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What one fault did, for the report. */
export interface FaultOutcome {
  /** Backends terminated (kills), connections cut (outage); otherwise 0. */
  readonly affected: number;
}

/** Runs one fault and resolves when it has ended (the proxy forwards again, the server is up). */
export async function injectFault(
  fault: PlannedFault,
  targets: FaultTargets,
  random: SeededRandom,
): Promise<FaultOutcome> {
  const { server, proxy, applicationName } = targets;
  switch (fault.kind) {
    case 'kill-all':
      return { affected: await server.terminateBackends({ applicationName }) };
    case 'kill-idle':
      return { affected: await server.terminateBackends({ applicationName, state: 'idle' }) };
    case 'kill-some': {
      const rows = await targets.admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid',
        [applicationName],
      );
      const pids = rows.map((row) => row.pid);
      for (let index = pids.length - 1; index > 0; index--) {
        const other = random.int(0, index);
        [pids[index], pids[other]] = [pids[other]!, pids[index]!];
      }
      const chosen = pids.slice(0, fault.killCount ?? 1);
      if (chosen.length === 0) return { affected: 0 };
      return { affected: await server.terminateBackends({ applicationName, pids: chosen }) };
    }
    case 'outage': {
      const before = proxy.status().cut;
      await proxy.outage({ durationMs: fault.durationMs });
      return { affected: proxy.status().cut - before };
    }
    case 'blackhole':
    case 'partition':
      proxy.blackhole({ existing: fault.kind === 'partition' });
      await sleep(fault.durationMs);
      proxy.heal();
      return { affected: 0 };
    case 'latency':
      proxy.setLatency(fault.latencyMs ?? 0);
      await sleep(fault.durationMs);
      proxy.setLatency(0);
      return { affected: 0 };
    case 'restart':
      await server.restart({
        mode: fault.restartMode ?? 'immediate',
        downtimeMs: fault.durationMs,
      });
      return { affected: 0 };
    case 'slow-statements':
      targets.setSlowWindow(true);
      await sleep(fault.durationMs);
      targets.setSlowWindow(false);
      return { affected: 0 };
  }
}

/** `outage 1234 ms`, `latency +80 ms for 2000 ms`, `restart (fast) 700 ms down`, `kill-some (3)`. */
export function describeFault(fault: PlannedFault): string {
  switch (fault.kind) {
    case 'kill-all':
    case 'kill-idle':
      return fault.kind;
    case 'kill-some':
      return `kill-some (${fault.killCount})`;
    case 'latency':
      return `latency +${fault.latencyMs} ms for ${fault.durationMs} ms`;
    case 'restart':
      return `restart (${fault.restartMode}) ${fault.durationMs} ms down`;
    default:
      return `${fault.kind} ${fault.durationMs} ms`;
  }
}
