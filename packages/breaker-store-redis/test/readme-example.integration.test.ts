import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type RedisServer, redisUnavailable, startRedis } from '@enhanced-pool/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStoreForChildren, removeBuild } from './instances.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const missing = redisUnavailable();

/** The README's fenced code blocks of a language (`''` for plain ones), in order. */
function codeBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  let current: string[] | undefined;
  let currentLanguage = '';
  for (const line of markdown.split('\n')) {
    if (current === undefined && line.startsWith('```')) {
      current = [];
      currentLanguage = line.slice(3).trim();
    } else if (current !== undefined && line === '```') {
      if (currentLanguage === language) blocks.push(current.join('\n'));
      current = undefined;
    } else {
      current?.push(line);
    }
  }
  return blocks;
}

describe.skipIf(missing)('README example', () => {
  let server: RedisServer;
  let storeModule: string;

  beforeAll(async () => {
    [server, storeModule] = await Promise.all([startRedis(), buildStoreForChildren()]);
  });
  afterAll(async () => {
    await server?.stop();
    await removeBuild(storeModule);
  });

  it('prints what the README says', async () => {
    const readme = await readFile(join(packageRoot, 'README.md'), 'utf8');
    const [example] = codeBlocks(readme, 'js');
    const [expected] = codeBlocks(readme, '');
    const script = (example as string).replace(
      "'@enhanced-pool/breaker-store-redis'",
      JSON.stringify(pathToFileURL(storeModule).href),
    );
    // Beside the built store, so the example's imports resolve from this package.
    const file = join(dirname(storeModule), 'readme-example.mjs');
    await writeFile(file, script);
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [file],
        { env: { ...process.env, REDIS_URL: server.url }, timeout: 20_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    const lines = output.trim().split('\n');
    const wanted = (expected as string).trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(wanted.slice(0, 2));
    // The retry time depends on how long the script took; everything else is exact.
    const retryPattern = /retry after \d+ ms/;
    expect(wanted[2]).toMatch(retryPattern);
    expect(lines[2]?.replace(retryPattern, 'retry after N ms')).toBe(
      wanted[2]?.replace(retryPattern, 'retry after N ms'),
    );
    expect(lines).toHaveLength(3);
  });
});
