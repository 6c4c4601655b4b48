#!/usr/bin/env node
// Benchmark figures in a README must be the recorded run's: every table a README quotes under a
// numbered heading ("#### 4b. Faults: …") must equal, cell for cell, the table under the same
// heading in apps/bench/RESULTS.md, and the README must name that run's timestamp. Run by
// `pnpm test`; after a new `pnpm bench`, copy the tables over and this passes again.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = 'apps/bench/RESULTS.md';
const READMES = ['packages/pool/README.md', 'packages/circuit-breaker/README.md'];
/** "2. Pool overhead: …", "4b. Faults: …": the bench's own section titles. */
const NUMBERED = /^#{3,4} (\d+[a-z]?\. .+)$/;

/** Title → rows (cells trimmed, the separator row dropped) of every numbered table in `text`. */
function tables(text) {
  const found = new Map();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const heading = NUMBERED.exec(lines[index]);
    if (heading === null) continue;
    let at = index + 1;
    while (at < lines.length && !lines[at].startsWith('|') && !NUMBERED.test(lines[at])) at++;
    const rows = [];
    for (; at < lines.length && lines[at].startsWith('|'); at++) {
      const cells = lines[at]
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim());
      if (cells.every((cell) => /^-+$/.test(cell))) continue;
      rows.push(cells);
    }
    if (rows.length > 0) found.set(heading[1].trim(), rows);
  }
  return found;
}

const resultsText = readFileSync(join(root, RESULTS), 'utf8');
const recorded = tables(resultsText);
const stamp = /_Node [^_]*· (\d{4}-\d\d-\d\dT[\d:]+Z)_/.exec(resultsText)?.[1];
const problems = [];
if (stamp === undefined) problems.push(`${RESULTS}: no run timestamp found`);

for (const readme of READMES) {
  const quoted = tables(readFileSync(join(root, readme), 'utf8'));
  if (quoted.size === 0) problems.push(`${readme}: quotes no benchmark table`);
  if (stamp !== undefined && !readFileSync(join(root, readme), 'utf8').includes(stamp)) {
    problems.push(`${readme}: does not name the recorded run (${stamp})`);
  }
  for (const [title, rows] of quoted) {
    const original = recorded.get(title);
    if (original === undefined) {
      problems.push(`${readme}: table "${title}" is not in ${RESULTS}`);
      continue;
    }
    const differs =
      rows.length !== original.length ||
      rows.some((row, index) => row.join('|') !== original[index].join('|'));
    if (differs) problems.push(`${readme}: table "${title}" differs from ${RESULTS}`);
  }
}

if (problems.length > 0) {
  console.error(`check-readme-figures: ${problems.length} problem(s)`);
  for (const problem of problems) console.error(`  - ${problem}`);
  process.exit(1);
}
console.log(
  `check-readme-figures: ${READMES.length} READMEs quote ${RESULTS} (run ${stamp}) unchanged`,
);
