import { runSoak, SoakUnavailableError } from './soak/run-soak.js';
import { parseSoakArguments, SoakArgumentError } from './soak/soak-arguments.js';
import { renderSoakReport } from './soak/soak-report.js';

/**
 * `pnpm soak -- --minutes 30 --seed 42`: the pool under a seeded random schedule of faults,
 * every invariant checked as it runs; prints the report as markdown and exits 1 when an
 * invariant broke (2 for a bad command line, 3 when no suitable PostgreSQL is available).
 */
async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseSoakArguments>;
  try {
    parsed = parseSoakArguments(process.argv.slice(2));
  } catch (error) {
    if (error instanceof SoakArgumentError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const { minutes, seed, seedGiven } = parsed;
  console.log(
    `soak: ${minutes} min, seed ${seed}${seedGiven ? '' : ' (drawn at random)'}; replay with: pnpm soak -- --minutes ${minutes} --seed ${seed}`,
  );
  if (typeof globalThis.gc !== 'function') {
    console.log('(not started with --expose-gc: turning it on at run time for the heap figures)');
  }
  try {
    const report = await runSoak({
      seed,
      durationMs: minutes * 60_000,
      log: (line) => console.log(line),
    });
    console.log(`\n${renderSoakReport(report)}`);
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof SoakUnavailableError) {
      console.error(`soak not run: ${error.message}`);
      return 3;
    }
    throw error;
  }
}

const code = await main();
// Exit explicitly: on Node 20 the process was seen spinning at exit, in its own handle cleanup
// (node::Environment::CleanupHandles), after the soak had closed its pool, proxy and server;
// a soak must end when its report is printed.
process.exit(code);
