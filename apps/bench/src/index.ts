import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { runBreakerBench } from './breaker.js';
import { NEEDS_SERVER, parseOnly, type SectionName } from './cli.js';
import { runE2eBench } from './e2e.js';
import { runFaultBench } from './faults.js';
import { describeMachine, formatMachine } from './machine.js';
import { runPoolBench } from './pool.js';
import { runQueryBench } from './query.js';
import { isUnavailable, type SectionOutput } from './section.js';
import { runSpikeBench } from './spike.js';
import { renderTable, renderUnavailable } from './table.js';

/**
 * `pnpm bench`: every section in one run, printed as markdown tables.
 * `pnpm bench -- --only pool,spike` (or `--only pool --only spike`) runs a subset.
 */

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2));
  const machine = describeMachine();
  const started = performance.now();
  console.log(`## enhanced-pool benchmarks\n\n_${formatMachine(machine)}_\n`);
  if (typeof globalThis.gc !== 'function') {
    console.log('(run with `node --expose-gc`: without it heap figures are not available)\n');
  }

  let server: PostgresServer | undefined;
  let serverProblem: string | undefined;
  if (only.some((name) => NEEDS_SERVER.has(name))) {
    try {
      server = await startPostgres({ maxConnections: 200 });
      const [version] = await server.query<{ server_version: string }>('SHOW server_version');
      console.log(
        `PostgreSQL ${version?.server_version ?? '?'} (${server.kind}) on ${server.host}:${server.port}\n`,
      );
    } catch (error) {
      serverProblem = `PostgreSQL could not be started (${(error as Error).message})`;
    }
  }

  const runners: Record<SectionName, () => Promise<SectionOutput>> = {
    breaker: () => runBreakerBench(),
    pool: () => runPoolBench(),
    e2e: () =>
      server
        ? runE2eBench(server)
        : Promise.resolve([{ title: '3. End to end', unavailable: serverProblem ?? '' }]),
    faults: () =>
      server
        ? runFaultBench(server)
        : Promise.resolve([{ title: '4. Faults', unavailable: serverProblem ?? '' }]),
    spike: () => runSpikeBench(),
    query: () =>
      server
        ? runQueryBench(server)
        : Promise.resolve([{ title: '6. pool.query()', unavailable: serverProblem ?? '' }]),
  };

  try {
    for (const name of only) {
      const sectionStart = performance.now();
      try {
        for (const item of await runners[name]()) {
          console.log(
            isUnavailable(item)
              ? renderUnavailable(item.title, item.unavailable)
              : renderTable(item, machine),
          );
        }
      } catch (error) {
        console.log(`### ${name}\n\nfailed: ${(error as Error).stack ?? String(error)}\n`);
        process.exitCode = 1;
      }
      console.log(`_(${name}: ${((performance.now() - sectionStart) / 1_000).toFixed(1)} s)_\n`);
    }
  } finally {
    await server?.stop();
  }
  console.log(`_Total: ${((performance.now() - started) / 1_000).toFixed(1)} s_`);
}

await main();
