import { defineConfig, type Options } from 'tsup';

/**
 * The one build every package shares: ESM and CJS from `src/index.ts`, each with its own type
 * file (`.d.ts` / `.d.cts`) so that `attw` reports no masquerading types.
 */
export function packageBuild(overrides: Options = {}): ReturnType<typeof defineConfig> {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    // Not rollup's tree-shaking: rollup 4 dropped the body of a method that mutates its own closure
    // (the fake driver's `query`), silently changing behaviour. esbuild's own dead-code removal stays.
    treeshake: false,
    ...overrides,
  });
}

/**
 * The build the apps share: one ESM file, no type declarations, and every dependency (our
 * workspace packages included) loaded from node_modules at run time, so an app runs exactly
 * what users install.
 */
export function appBuild(entry: string): ReturnType<typeof defineConfig> {
  return defineConfig({
    entry: [entry],
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: true,
    platform: 'node',
    target: 'node20',
    splitting: false,
    skipNodeModulesBundle: true,
  });
}
