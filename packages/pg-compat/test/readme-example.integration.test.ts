import { readFile } from 'node:fs/promises';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from '../src/index.js';

/** The README's fenced `ts` code blocks, in order. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

describe('README example', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres();
    await server.query('CREATE TABLE accounts (id integer PRIMARY KEY, balance integer)');
    await server.query('INSERT INTO accounts VALUES (1, 100)');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('runs the plain node-postgres example as printed', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const [example] = codeBlocks(readme);
    expect(example).toContain("import { Pool } from '@enhanced-pool/pg-compat';");
    // The block is plain JavaScript apart from its import, which is the one thing replaced.
    const body = (example ?? '')
      .replace(/^import .*$/gm, '')
      .replaceAll('process.env.DATABASE_URL', JSON.stringify(server.connectionString));
    const printed: unknown[][] = [];
    const console = { log: (...args: unknown[]) => printed.push(args), error: () => {} };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...parameters: string[]
    ) => (...args: unknown[]) => Promise<void>;
    await new AsyncFunction('Pool', 'console', body)(Pool, console);
    expect(printed).toEqual([['world']]);
    expect(await server.query('SELECT balance FROM accounts')).toEqual([{ balance: 90 }]);
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(0);
  });
});
