import { defineConfig } from 'tsup';

/**
 * The bench is an app, not a package: one ESM file, no type declarations, and every dependency
 * (peers and our own workspace packages) loaded from node_modules at run time, so what is
 * measured is exactly what users install.
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  platform: 'node',
  target: 'node20',
  splitting: false,
  skipNodeModulesBundle: true,
});
