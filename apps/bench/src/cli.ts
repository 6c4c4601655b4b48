/** The sections `pnpm bench` runs, in order. */
export const SECTIONS = ['breaker', 'pool', 'e2e', 'faults', 'spike', 'query'] as const;
export type SectionName = (typeof SECTIONS)[number];

/** Sections that need a PostgreSQL server (started once for all of them). */
export const NEEDS_SERVER: ReadonlySet<SectionName> = new Set<SectionName>([
  'e2e',
  'faults',
  'query',
]);

/**
 * Reads `--only a,b`, `--only=a,b` or repeated `--only a --only b`; no flag means every
 * section. Unknown sections and arguments throw, naming what is allowed.
 */
export function parseOnly(argv: readonly string[]): SectionName[] {
  const picked: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (argument === '--only') picked.push(...(argv[++index] ?? '').split(','));
    else if (argument.startsWith('--only=')) picked.push(...argument.slice(7).split(','));
    else if (argument !== '--') {
      throw new Error(
        `Unknown argument ${JSON.stringify(argument)}; usage: --only ${SECTIONS.join('|')}`,
      );
    }
  }
  if (picked.length === 0) return [...SECTIONS];
  for (const name of picked) {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      throw new Error(`--only takes ${SECTIONS.join('|')}; got ${JSON.stringify(name)}`);
    }
  }
  return SECTIONS.filter((name) => picked.includes(name));
}
