// Checks that dependencies point inward (STYLE.md convention 1), by reading every workspace
// package.json: core and circuit-breaker have no runtime dependencies, feature packages depend
// only on core, only `pool` and `pg-compat` compose siblings, a plugin may use the one package it plugs into,
// apps may use anything, and there are no cycles.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const manifests = new Map();
for (const group of ['packages', 'apps']) {
  const dir = new URL(`${group}/`, root);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const file = new URL(`${name}/package.json`, dir);
    if (existsSync(file)) manifests.set(JSON.parse(readFileSync(file, 'utf8')).name, { group });
  }
}

const problems = [];
const runtimeDeps = (name) => {
  const group = manifests.get(name).group;
  const manifest = JSON.parse(
    readFileSync(
      new URL(`${group}/${name.replace('@enhanced-pool/', '')}/package.json`, root),
      'utf8',
    ),
  );
  return Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
};

// The pool assembles the feature packages; the pg.Pool drop-in assembles the pool and its driver.
const COMPOSERS = new Set(['@enhanced-pool/pool', '@enhanced-pool/pg-compat']);
// A package that plugs into one sibling (a store for the breaker) may depend on that sibling.
const PLUGINS = new Map([['@enhanced-pool/breaker-store-redis', '@enhanced-pool/circuit-breaker']]);
const STANDALONE = new Set(['@enhanced-pool/core', '@enhanced-pool/circuit-breaker']);
const graph = new Map();
for (const [name, { group }] of manifests) {
  const internal = runtimeDeps(name).filter((dep) => manifests.has(dep));
  graph.set(name, internal);
  if (group === 'apps') continue;
  if (STANDALONE.has(name) && runtimeDeps(name).length > 0) {
    problems.push(
      `${name} must have no runtime dependencies, has: ${runtimeDeps(name).join(', ')}`,
    );
  }
  if (!COMPOSERS.has(name)) {
    const siblings = internal.filter(
      (dep) => dep !== '@enhanced-pool/core' && dep !== PLUGINS.get(name),
    );
    if (siblings.length > 0) {
      problems.push(
        `${name} may depend only on @enhanced-pool/core, depends on ${siblings.join(', ')}`,
      );
    }
  }
}

const visiting = new Set();
const done = new Set();
const visit = (name, path) => {
  if (done.has(name)) return;
  if (visiting.has(name)) {
    problems.push(`dependency cycle: ${[...path, name].join(' -> ')}`);
    return;
  }
  visiting.add(name);
  for (const dep of graph.get(name) ?? []) visit(dep, [...path, name]);
  visiting.delete(name);
  done.add(name);
};
for (const name of graph.keys()) visit(name, []);

if (problems.length > 0) {
  console.error(`check-deps: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(
  `check-deps: ${manifests.size} workspace packages, dependencies point inward, no cycles`,
);
