// `pnpm start`: builds and runs the example service (apps/example); without it, says what is here.
//
// The service runs as this script's direct child, not behind another `pnpm` layer, so that
// signals reach it: SIGINT/SIGTERM/SIGHUP sent to this script are passed on, and if the `pnpm`
// that started this script dies (pnpm ends its child shell, not the whole tree), the service
// is told to shut down instead of being left running with its database.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const exampleDir = fileURLToPath(new URL('../apps/example/', import.meta.url));
if (existsSync(`${exampleDir}package.json`)) {
  const build = spawnSync(
    'pnpm',
    ['--filter', '@enhanced-pool/example', 'exec', 'tsup', '--silent'],
    {
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) process.exit(build.status ?? 1);

  const service = spawn(process.execPath, ['dist/main.js'], { cwd: exampleDir, stdio: 'inherit' });
  const forward = (signal) => {
    if (service.exitCode === null && service.signalCode === null) service.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => forward(signal));

  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(orphanCheck);
      forward('SIGTERM');
    }
  }, 500);

  service.on('exit', (code, signal) => {
    clearInterval(orphanCheck);
    process.exit(code ?? (signal === null ? 1 : 128 + (signalNumber(signal) ?? 0)));
  });
} else {
  console.log('The example app (apps/example) has not landed yet. Packages built so far:');
  const packagesDir = new URL('../packages/', import.meta.url);
  for (const name of readdirSync(packagesDir)) {
    const manifest = new URL(`${name}/package.json`, packagesDir);
    if (!existsSync(manifest)) continue;
    const { name: packageName, description } = JSON.parse(readFileSync(manifest, 'utf8'));
    console.log(`  ${packageName.padEnd(32)} ${description}`);
  }
  console.log('\nRun the tests with `pnpm test`, the benchmarks with `pnpm bench`.');
}

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal];
}
