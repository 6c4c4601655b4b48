import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type PostgresServer,
  type PostgrestTestServer,
  startPostgres,
  startPostgrestTestServer,
} from '@enhanced-pool/testing';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareSupabaseDatabase } from './support/supabase-test-database.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The child: makes three clients, subscribes a realtime channel on one (a ws socket that
 * reconnects on a timer), validates another, then closes them all, or not, and returns
 * without calling process.exit(): only an empty event loop ends it.
 */
const CHILD = `
import { createSupabaseDriver } from './index.js';
const driver = createSupabaseDriver({
  url: process.env.TEST_API_URL,
  key: process.env.TEST_API_KEY,
  healthCheck: { table: 'todos' },
});
const signal = new AbortController().signal;
const clients = [];
for (let index = 0; index < 3; index++) clients.push(await driver.connect({ signal }));
clients[0].channel('room-1').subscribe();
await driver.validate(clients[1], { signal });
const closing = performance.now();
if (process.env.TEST_CLOSE === 'yes') await Promise.all(clients.map((client) => driver.close(client)));
process.stdout.write('done ' + Math.round(performance.now() - closing) + '\\n');
`;

/**
 * Compiles the driver's sources to plain ESM beside node_modules (so its imports resolve), the
 * way the published build would run, without depending on a build step before the tests.
 */
async function compileDriver(): Promise<string> {
  const cache = join(packageDir, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const out = await mkdtemp(join(cache, 'exit-test-'));
  const sourceDir = join(packageDir, 'src');
  for (const file of await readdir(sourceDir)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const source = await readFile(join(sourceDir, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: false,
      },
    });
    await writeFile(join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  await writeFile(join(out, 'package.json'), '{ "type": "module" }');
  await writeFile(join(out, 'child.js'), CHILD);
  return out;
}

interface ChildRun {
  /** Milliseconds from the child's "done" to its exit; undefined if it was still running. */
  readonly exitAfterDoneMs: number | undefined;
  readonly code: number | null;
  readonly stderr: string;
  /** How long the child's close() calls took, as it reported. */
  readonly closeMs: number | undefined;
}

async function runChild(
  directory: string,
  env: Record<string, string>,
  graceMs: number,
): Promise<ChildRun> {
  const child: ChildProcess = spawn(process.execPath, [join(directory, 'child.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return await new Promise<ChildRun>((resolve) => {
    let doneAt: number | undefined;
    let closeMs: number | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /done (\d+)/.exec(chunk.toString());
      if (match === null || doneAt !== undefined) return;
      doneAt = performance.now();
      closeMs = Number(match[1]);
      // Still alive this long after its work ended: something keeps it running.
      timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    });
    child.on('exit', (code, killedBy) => {
      clearTimeout(timer);
      resolve({
        exitAfterDoneMs:
          killedBy === null && doneAt !== undefined ? performance.now() - doneAt : undefined,
        code,
        stderr,
        closeMs,
      });
    });
  });
}

describe('close() leaves nothing that keeps the process alive', () => {
  let database: PostgresServer;
  let api: PostgrestTestServer;
  let directory: string;

  beforeAll(async () => {
    [database, directory] = await Promise.all([startPostgres(), compileDriver()]);
    await prepareSupabaseDatabase(database);
    api = await startPostgrestTestServer({ database });
  });

  afterAll(async () => {
    await api?.close();
    await database?.stop();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('a process that closes its clients (one with a realtime channel) exits on its own', async () => {
    const run = await runChild(
      directory,
      { TEST_API_URL: api.url, TEST_API_KEY: api.key, TEST_CLOSE: 'yes' },
      3_000,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.exitAfterDoneMs, 'the child was killed: it did not exit on its own').toBeDefined();
    console.log(
      '[exit] close() of 3 clients took %d ms; the child exited %d ms after it resolved',
      run.closeMs,
      Math.round(run.exitAfterDoneMs!),
    );
    // Node 20's fetch (undici) holds its idle keep-alive socket for a moment after any request,
    // so a process that made one plain fetch() lingers too (about 1.7 s here; the next test
    // prints it). The bound says nothing of ours is left: without close() it never exits.
    expect(run.exitAfterDoneMs).toBeLessThan(3_000);
  });

  it('without close() the same process stays alive (so the check above can fail)', async () => {
    const run = await runChild(
      directory,
      { TEST_API_URL: api.url, TEST_API_KEY: api.key, TEST_CLOSE: 'no' },
      3_000,
    );
    expect(run.exitAfterDoneMs).toBeUndefined();
  });

  it('for comparison: a process that made one plain fetch() and nothing else', async () => {
    await writeFile(
      join(directory, 'plain.js'),
      `await fetch(process.env.TEST_API_URL + '/rest/v1/todos', { headers: { apikey: process.env.TEST_API_KEY } }).then((response) => response.text());\nprocess.stdout.write('done 0\\n');\n`,
    );
    await writeFile(join(directory, 'child.js'), "import './plain.js';\n");
    try {
      const run = await runChild(
        directory,
        { TEST_API_URL: api.url, TEST_API_KEY: api.key },
        5_000,
      );
      expect(run.exitAfterDoneMs).toBeDefined();
      console.log(
        '[exit] a plain fetch() child exited %d ms after its request',
        Math.round(run.exitAfterDoneMs!),
      );
    } finally {
      await writeFile(join(directory, 'child.js'), CHILD);
    }
  });
});
