import { defineConfig } from 'tsup';

/**
 * The example is an app, not a package: one ESM file, no type declarations, and every
 * dependency (our workspace packages and pg) loaded from node_modules at run time, so it runs
 * exactly what users install. The dashboard is a TypeScript module exporting the page, so it is
 * bundled with no loader or copy step.
 */
export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  platform: 'node',
  target: 'node20',
  splitting: false,
  skipNodeModulesBundle: true,
});
