// `pnpm start`: runs the example app once it exists; until then, says what is here.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const example = new URL('../apps/example/package.json', import.meta.url);
if (existsSync(example)) {
  const result = spawnSync('pnpm', ['--filter', '@enhanced-pool/example', 'start'], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}

console.log('The example app (apps/example) has not landed yet. Packages built so far:');
const packagesDir = new URL('../packages/', import.meta.url);
for (const name of readdirSync(packagesDir)) {
  const manifest = new URL(`${name}/package.json`, packagesDir);
  if (!existsSync(manifest)) continue;
  const { name: packageName, description } = JSON.parse(readFileSync(manifest, 'utf8'));
  console.log(`  ${packageName.padEnd(32)} ${description}`);
}
console.log('\nRun the tests with `pnpm test`, the benchmarks with `pnpm bench`.');
