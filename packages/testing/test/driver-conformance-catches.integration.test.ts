import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBinaries } from '../src/postgres/find-postgres-binaries.js';

interface AssertionResult {
  readonly ancestorTitles: readonly string[];
  readonly title: string;
  readonly status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitestBin = join(
  dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
  'vitest.mjs',
);

/** Runs the broken-driver fixture in a child vitest and returns each check's outcome by suite. */
async function runFixture(): Promise<Map<string, Map<string, AssertionResult['status']>>> {
  const directory = await mkdtemp(join(tmpdir(), 'enhanced-pool-conformance-'));
  const outputFile = join(directory, 'results.json');
  try {
    await new Promise<void>((resolve) => {
      execFile(
        process.execPath,
        [
          vitestBin,
          'run',
          '--config',
          'test/fixtures/vitest.fixture.config.ts',
          '--reporter=json',
          `--outputFile=${outputFile}`,
        ],
        { cwd: packageRoot, timeout: 600_000, env: { ...process.env, DATABASE_URL: '' } },
        // The child fails (that is the point); its results file says how.
        () => resolve(),
      );
    });
    const report = JSON.parse(await readFile(outputFile, 'utf8')) as {
      testResults: { assertionResults: AssertionResult[] }[];
    };
    const bySuite = new Map<string, Map<string, AssertionResult['status']>>();
    for (const file of report.testResults) {
      for (const result of file.assertionResults) {
        const suite = (result.ancestorTitles[0] ?? '').replace(/ \(.*$/, '');
        if (!bySuite.has(suite)) bySuite.set(suite, new Map());
        bySuite.get(suite)!.set(result.title, result.status);
      }
    }
    return bySuite;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function withStatus(
  results: Map<string, AssertionResult['status']> | undefined,
  wanted: AssertionResult['status'],
): string[] {
  return [...(results ?? [])].filter(([, status]) => status === wanted).map(([title]) => title);
}

function failed(results: Map<string, AssertionResult['status']> | undefined): string[] {
  return withStatus(results, 'failed');
}

/** How many checks one runDriverConformance() registers. */
const CHECKS = 20;

// The expected failures need every check to run, which takes a local server (not pglite).
const withoutLocalServer =
  findPostgresBinaries() === undefined
    ? 'no PostgreSQL server binaries on this machine, so most checks would be skipped'
    : undefined;
if (withoutLocalServer) {
  console.warn(`[@enhanced-pool/testing] skipped the conformance meta-test: ${withoutLocalServer}`);
}

describe.skipIf(withoutLocalServer !== undefined)(
  'runDriverConformance() catches drivers that break the contract',
  () => {
    let results: Map<string, Map<string, AssertionResult['status']>>;

    beforeAll(async () => {
      results = await runFixture();
    }, 600_000);

    it('fails the signal checks for a driver that ignores its abort signal', () => {
      expect(failed(results.get('ignores-signal')).sort()).toEqual(
        [
          'connect() with an already-aborted signal rejects promptly and leaves no server connection',
          'connect() aborted during a handshake the server never answers rejects promptly and closes its socket',
          'validate() with an already-aborted signal rejects promptly',
          'validate() stuck on an unresponsive backend rejects promptly when its signal aborts',
        ].sort(),
      );
    });

    it('fails only the secret check for a driver whose describe() holds the password', () => {
      expect(failed(results.get('leaks-password'))).toEqual([
        'describe(), the driver object and their util.inspect / JSON hold no password',
      ]);
    });

    it('fails every classification check for a driver that classifies nothing', () => {
      expect(failed(results.get('classifies-everything-unknown')).sort()).toEqual(
        [
          'validate() rejects for a connection terminated on the server, classified "connection"',
          'classifyError(): connection refused → "connection"',
          'classifyError(): wrong password → "authentication", and the error does not contain it',
          'classifyError(): missing database → "configuration"',
          'classifyError(): a failing statement → "query", and the connection still validates',
          'classifyError(): server at max_connections → "resource-exhausted"',
        ].sort(),
      );
    });

    it('fails the idempotent-close checks for a driver whose second close() rejects', () => {
      expect(failed(results.get('close-twice-rejects')).sort()).toEqual(
        [
          'close() is idempotent: a second close() resolves',
          'close() resolves for a connection the server already terminated',
        ].sort(),
      );
    });

    it('fails the reset check for a driver whose reset() leaves the transaction open', () => {
      expect(failed(results.get('reset-does-nothing'))).toEqual([
        'reset() leaves a connection out of any transaction and ready to validate',
      ]);
    });

    it("fails the describe() check for a driver that leaves out the target's address, port and database", () => {
      expect(failed(results.get('describes-system-only'))).toEqual([
        "describe() names db.system.name and the target's address, port and database",
      ]);
    });

    it('skips the isBroken() checks, and nothing else, for a driver without isBroken()', () => {
      const suite = results.get('without-is-broken');
      expect(failed(suite)).toEqual([]);
      expect(withStatus(suite, 'skipped').sort()).toEqual(
        [
          'isBroken() answers synchronously: false for a healthy connection',
          'isBroken() reports a connection terminated on the server once validate() has failed',
        ].sort(),
      );
    });

    it('passes every other check for those drivers, so each failure points at one rule', () => {
      for (const suite of [
        'leaks-password',
        'classifies-everything-unknown',
        'reset-does-nothing',
        'describes-system-only',
      ]) {
        const statuses = [...(results.get(suite) ?? [])].map(([, status]) => status);
        expect(statuses.length).toBe(CHECKS);
        expect(statuses.filter((status) => status === 'passed').length).toBe(
          CHECKS - failed(results.get(suite)).length,
        );
      }
    });
  },
);
