// `pnpm start`: the database (DATABASE_URL, else a throwaway local PostgreSQL, else embedded
// pglite; EXAMPLE_DATABASE=embedded|local to choose), the fault proxy, the service's pool, and the
// dashboard on http://127.0.0.1:3000/ (PORT to change it). Ctrl-C stops everything it started.

import { redactSecrets } from '@enhanced-pool/core';
import { DATABASE_CHOICES, type DatabaseChoice } from './database.js';
import { type Service, startService } from './service.js';

function parsePort(text: string | undefined): number {
  if (text === undefined || text === '') return 3_000;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got "${text}"`);
  }
  return port;
}

function parseDatabase(text: string | undefined): DatabaseChoice {
  if (text === undefined || text === '') return 'auto';
  if (!(DATABASE_CHOICES as readonly string[]).includes(text)) {
    throw new Error(
      `EXAMPLE_DATABASE must be one of ${DATABASE_CHOICES.join(', ')}, got "${text}"`,
    );
  }
  return text as DatabaseChoice;
}

let service: Service | undefined;
let firstSignalAt: number | undefined;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const now = performance.now();
    if (firstSignalAt !== undefined) {
      // One Ctrl-C can arrive twice: from the terminal and as passed on by scripts/start.mjs.
      if (now - firstSignalAt < 1_000) return;
      console.log('Forced exit.');
      process.exit(130);
    }
    firstSignalAt = now;
    if (service === undefined) {
      // Still starting: startPostgres' own exit hook stops a server that is coming up. Stopping
      // was asked for, so it is a clean exit.
      console.log(`\n${signal}: stopped while starting.`);
      process.exit(0);
    }
    console.log(`\n${signal}: stopping the load, closing the pool, the proxy and the database…`);
    service.shutdown().then(
      ({ connectionsLeft, serverStopped }) => {
        const left = connectionsLeft === undefined ? 'not counted' : String(connectionsLeft);
        console.log(
          `Stopped. Connections left on the database: ${left}; database ${serverStopped ? 'stopped and removed' : 'left running (DATABASE_URL)'}.`,
        );
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`Shutdown failed: ${describe(error)}`);
        process.exit(1);
      },
    );
  });
}

function describe(error: unknown): string {
  return redactSecrets(error instanceof Error ? (error.stack ?? error.message) : String(error));
}

/**
 * `startPostgres()` installs SIGINT/SIGTERM hooks that stop its servers at once. Here they would
 * crash the database before the pool closes, so the pool's goodbye would never reach it. The
 * service stops the server itself, in order; the test kit's `exit` hook stays as the safety net
 * (every path below ends in `process.exit`), so no PostgreSQL outlives the process.
 */
function withoutSignalHooksAddedBy<TResult>(start: () => Promise<TResult>): Promise<TResult> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  return start().finally(() => {
    for (const signal of signals) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.has(listener)) process.off(signal, listener);
      }
    }
  });
}

try {
  service = await withoutSignalHooksAddedBy(() =>
    startService({
      port: parsePort(process.env.PORT),
      database: parseDatabase(process.env.EXAMPLE_DATABASE),
    }),
  );
  console.log(`\nThe example service is running: open ${service.url}`);
  console.log('Start the load and press the fault buttons to see the pool ride out an outage.');
  console.log('Press Ctrl-C to stop.');
} catch (error) {
  console.error(`The example service could not start: ${describe(error)}`);
  process.exitCode = 1;
}
