/** One molecule as the service stores it. */
export interface Molecule {
  readonly name: string;
  /** Hill notation: C, then H, then the other elements alphabetically. */
  readonly formula: string;
  readonly smiles: string;
  /** g/mol, from standard atomic weights, to 3 decimals. */
  readonly molecularWeight: number;
}

type Element = 'C' | 'H' | 'N' | 'O' | 'F' | 'S' | 'Cl' | 'Br';
type Atoms = Partial<Record<Element, number>>;

/** Standard atomic weights (IUPAC, abridged). */
const ATOMIC_WEIGHT: Readonly<Record<Element, number>> = {
  C: 12.011,
  H: 1.008,
  N: 14.007,
  O: 15.999,
  F: 18.998,
  S: 32.06,
  Cl: 35.45,
  Br: 79.904,
};

function add(...parts: Atoms[]): Atoms {
  const total: Atoms = {};
  for (const part of parts) {
    for (const [element, count] of Object.entries(part) as [Element, number][]) {
      total[element] = (total[element] ?? 0) + count;
    }
  }
  return total;
}

function formulaOf(atoms: Atoms): string {
  const others = (Object.keys(atoms) as Element[])
    .filter((element) => element !== 'C' && element !== 'H')
    .sort();
  const order: Element[] = atoms.C ? ['C', 'H', ...others] : (['H', ...others] as Element[]);
  return order
    .filter((element) => (atoms[element] ?? 0) > 0)
    .map((element) => (atoms[element] === 1 ? element : `${element}${atoms[element]}`))
    .join('');
}

function weightOf(atoms: Atoms): number {
  let weight = 0;
  for (const [element, count] of Object.entries(atoms) as [Element, number][]) {
    weight += ATOMIC_WEIGHT[element] * count;
  }
  return Math.round(weight * 1_000) / 1_000;
}

function molecule(name: string, smiles: string, atoms: Atoms): Molecule {
  return { name, formula: formulaOf(atoms), smiles, molecularWeight: weightOf(atoms) };
}

/** Well-known molecules, so the first page of `SELECT * FROM molecules` reads familiar. */
const NAMED: readonly [string, string, Atoms][] = [
  ['water', 'O', { H: 2, O: 1 }],
  ['ammonia', 'N', { H: 3, N: 1 }],
  ['carbon dioxide', 'O=C=O', { C: 1, O: 2 }],
  ['benzene', 'c1ccccc1', { C: 6, H: 6 }],
  ['caffeine', 'CN1C=NC2=C1C(=O)N(C(=O)N2C)C', { C: 8, H: 10, N: 4, O: 2 }],
  ['aspirin', 'CC(=O)OC1=CC=CC=C1C(=O)O', { C: 9, H: 8, O: 4 }],
  ['paracetamol', 'CC(=O)NC1=CC=C(C=C1)O', { C: 8, H: 9, N: 1, O: 2 }],
  ['ibuprofen', 'CC(C)CC1=CC=C(C=C1)C(C)C(=O)O', { C: 13, H: 18, O: 2 }],
  ['glucose', 'C(C1C(C(C(C(O1)O)O)O)O)O', { C: 6, H: 12, O: 6 }],
  ['ethanol', 'CCO', { C: 2, H: 6, O: 1 }],
  ['acetone', 'CC(=O)C', { C: 3, H: 6, O: 1 }],
  ['urea', 'C(=O)(N)N', { C: 1, H: 4, N: 2, O: 1 }],
  ['nicotine', 'CN1CCCC1C2=CN=CC=C2', { C: 10, H: 14, N: 2 }],
  ['dopamine', 'C1=CC(=C(C=C1CCN)O)O', { C: 8, H: 11, N: 1, O: 2 }],
  ['serotonin', 'C1=CC2=C(C=C1O)C(=CN2)CCN', { C: 10, H: 12, N: 2, O: 1 }],
  ['adrenaline', 'CNCC(C1=CC(=C(C=C1)O)O)O', { C: 9, H: 13, N: 1, O: 3 }],
  ['vanillin', 'COC1=C(C=CC(=C1)C=O)O', { C: 8, H: 8, O: 3 }],
  ['menthol', 'CC1CCC(C(C1)O)C(C)C', { C: 10, H: 20, O: 1 }],
  ['capsaicin', 'CC(C)C=CCCCCC(=O)NCC1=CC(=C(C=C1)O)OC', { C: 18, H: 27, N: 1, O: 3 }],
  ['naphthalene', 'c1ccc2ccccc2c1', { C: 10, H: 8 }],
  ['toluene', 'Cc1ccccc1', { C: 7, H: 8 }],
  ['phenol', 'Oc1ccccc1', { C: 6, H: 6, O: 1 }],
  ['pyridine', 'c1ccncc1', { C: 5, H: 5, N: 1 }],
  ['indole', 'c1ccc2[nH]ccc2c1', { C: 8, H: 7, N: 1 }],
  ['glycine', 'C(C(=O)O)N', { C: 2, H: 5, N: 1, O: 2 }],
  ['alanine', 'CC(C(=O)O)N', { C: 3, H: 7, N: 1, O: 2 }],
  ['cysteine', 'C(C(C(=O)O)N)S', { C: 3, H: 7, N: 1, O: 2, S: 1 }],
  ['taurine', 'C(CS(=O)(=O)O)N', { C: 2, H: 7, N: 1, O: 3, S: 1 }],
  ['citric acid', 'C(C(=O)O)C(CC(=O)O)(C(=O)O)O', { C: 6, H: 8, O: 7 }],
  ['lactic acid', 'CC(C(=O)O)O', { C: 3, H: 6, O: 3 }],
  ['chloroform', 'C(Cl)(Cl)Cl', { C: 1, H: 1, Cl: 3 }],
  ['dimethyl sulfoxide', 'CS(=O)C', { C: 2, H: 6, O: 1, S: 1 }],
  ['styrene', 'C=Cc1ccccc1', { C: 8, H: 8 }],
  ['cholesterol', 'CC(C)CCCC(C)C1CCC2C1(CCC3C2CC=C4C3(CCC(C4)O)C)C', { C: 27, H: 46, O: 1 }],
  ['testosterone', 'CC12CCC3C(C1CCC2O)CCC4=CC(=O)CCC34C', { C: 19, H: 28, O: 2 }],
  ['morphine', 'CN1CCC23C4C1CC5=C2C(=C(C=C5)O)OC3C(C=C4)O', { C: 17, H: 19, N: 1, O: 3 }],
];

const STEMS = [
  'meth',
  'eth',
  'prop',
  'but',
  'pent',
  'hex',
  'hept',
  'oct',
  'non',
  'dec',
  'undec',
  'dodec',
  'tridec',
  'tetradec',
  'pentadec',
  'hexadec',
  'heptadec',
  'octadec',
  'nonadec',
  'icos',
  'henicos',
  'docos',
  'tricos',
  'tetracos',
  'pentacos',
  'hexacos',
  'heptacos',
  'octacos',
  'nonacos',
  'triacont',
] as const;

const stem = (carbons: number): string => STEMS[carbons - 1] as string;
const chain = (carbons: number): string => 'C'.repeat(carbons);
/** A straight alkyl group CnH2n+1. */
const alkyl = (carbons: number): Atoms => ({ C: carbons, H: 2 * carbons + 1 });

/** Straight-chain series: n carbons and one functional group. */
const CHAIN_SERIES: readonly {
  readonly minCarbons: number;
  readonly name: (n: number) => string;
  readonly smiles: (n: number) => string;
  readonly atoms: (n: number) => Atoms;
}[] = [
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}ane`,
    smiles: chain,
    atoms: (n) => add(alkyl(n), { H: 1 }),
  },
  {
    minCarbons: 2,
    name: (n) => `${stem(n)}-1-ene`,
    smiles: (n) => `C=C${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n }),
  },
  {
    minCarbons: 2,
    name: (n) => `${stem(n)}-1-yne`,
    smiles: (n) => `C#C${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n - 2 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}an-1-ol`,
    smiles: (n) => `${chain(n)}O`,
    atoms: (n) => add(alkyl(n), { O: 1, H: 1 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}anal`,
    smiles: (n) => `${chain(n - 1)}C=O`,
    atoms: (n) => ({ C: n, H: 2 * n, O: 1 }),
  },
  {
    minCarbons: 3,
    name: (n) => `${stem(n)}an-2-one`,
    smiles: (n) => `CC(=O)${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n, O: 1 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}anoic acid`,
    smiles: (n) => `${chain(n - 1)}C(=O)O`,
    atoms: (n) => ({ C: n, H: 2 * n, O: 2 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}an-1-amine`,
    smiles: (n) => `${chain(n)}N`,
    atoms: (n) => add(alkyl(n), { N: 1, H: 2 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}anamide`,
    smiles: (n) => `${chain(n - 1)}C(=O)N`,
    atoms: (n) => ({ C: n, H: 2 * n + 1, N: 1, O: 1 }),
  },
  {
    minCarbons: 2,
    name: (n) => `${stem(n)}anenitrile`,
    smiles: (n) => `${chain(n - 1)}C#N`,
    atoms: (n) => ({ C: n, H: 2 * n - 1, N: 1 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}ane-1-thiol`,
    smiles: (n) => `${chain(n)}S`,
    atoms: (n) => add(alkyl(n), { S: 1, H: 1 }),
  },
  {
    minCarbons: 1,
    name: (n) => `1-fluoro${stem(n)}ane`,
    smiles: (n) => `${chain(n)}F`,
    atoms: (n) => add(alkyl(n), { F: 1 }),
  },
  {
    minCarbons: 1,
    name: (n) => `1-chloro${stem(n)}ane`,
    smiles: (n) => `${chain(n)}Cl`,
    atoms: (n) => add(alkyl(n), { Cl: 1 }),
  },
  {
    minCarbons: 1,
    name: (n) => `1-bromo${stem(n)}ane`,
    smiles: (n) => `${chain(n)}Br`,
    atoms: (n) => add(alkyl(n), { Br: 1 }),
  },
  {
    minCarbons: 3,
    name: (n) => `cyclo${stem(n)}ane`,
    smiles: (n) => `C1${chain(n - 1)}1`,
    atoms: (n) => ({ C: n, H: 2 * n }),
  },
  {
    minCarbons: 2,
    name: (n) => `${stem(n)}ane-1,2-diol`,
    smiles: (n) => `OCC(O)${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n + 2, O: 2 }),
  },
  {
    minCarbons: 3,
    name: (n) => `${stem(n)}an-2-ol`,
    smiles: (n) => `CC(O)${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n + 2, O: 1 }),
  },
  {
    minCarbons: 3,
    name: (n) => `${stem(n)}an-2-amine`,
    smiles: (n) => `CC(N)${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n + 3, N: 1 }),
  },
  {
    minCarbons: 3,
    name: (n) => `2-methyl${stem(n)}ane`,
    smiles: (n) => `CC(C)${chain(n - 2)}`,
    atoms: (n) => ({ C: n + 1, H: 2 * n + 4 }),
  },
  {
    minCarbons: 2,
    name: (n) => `1,2-dichloro${stem(n)}ane`,
    smiles: (n) => `ClCC(Cl)${chain(n - 2)}`,
    atoms: (n) => ({ C: n, H: 2 * n, Cl: 2 }),
  },
  {
    minCarbons: 2,
    name: (n) => `${n}-hydroxy${stem(n)}anoic acid`,
    smiles: (n) => `OC${chain(n - 2)}C(=O)O`,
    atoms: (n) => ({ C: n, H: 2 * n, O: 3 }),
  },
  {
    minCarbons: 2,
    name: (n) => `${n}-amino${stem(n)}anoic acid`,
    smiles: (n) => `NC${chain(n - 2)}C(=O)O`,
    atoms: (n) => ({ C: n, H: 2 * n + 1, N: 1, O: 2 }),
  },
  {
    minCarbons: 1,
    name: (n) => `${stem(n)}yl benzoate`,
    smiles: (n) => `${chain(n)}OC(=O)c1ccccc1`,
    atoms: (n) => ({ C: n + 7, H: 2 * n + 6, O: 2 }),
  },
];

/** Substituents on a benzene ring beside an alkyl chain: [prefix name, parent name, SMILES, atoms]. */
const RING_SUBSTITUENTS: readonly {
  readonly prefix?: string;
  readonly parent?: string;
  readonly smiles: string;
  readonly atoms: Atoms;
}[] = [
  { prefix: 'fluoro', smiles: 'F', atoms: { F: 1 } },
  { prefix: 'chloro', smiles: 'Cl', atoms: { Cl: 1 } },
  { prefix: 'bromo', smiles: 'Br', atoms: { Br: 1 } },
  { prefix: 'nitro', smiles: '[N+](=O)[O-]', atoms: { N: 1, O: 2 } },
  { prefix: 'methoxy', smiles: 'OC', atoms: { C: 1, H: 3, O: 1 } },
  { prefix: 'methyl', smiles: 'C', atoms: { C: 1, H: 3 } },
  { parent: 'phenol', smiles: 'O', atoms: { O: 1, H: 1 } },
  { parent: 'aniline', smiles: 'N', atoms: { N: 1, H: 2 } },
  { parent: 'benzoic acid', smiles: 'C(=O)O', atoms: { C: 1, O: 2, H: 1 } },
  { parent: 'benzonitrile', smiles: 'C#N', atoms: { C: 1, N: 1 } },
  { parent: 'benzaldehyde', smiles: 'C=O', atoms: { C: 1, H: 1, O: 1 } },
  { parent: 'acetophenone', smiles: 'C(C)=O', atoms: { C: 2, H: 3, O: 1 } },
];

/** Ring positions relative to the alkyl chain: the SMILES that puts the substituent X there. */
const POSITIONS: readonly {
  readonly locant: number;
  readonly smiles: (r: string, x: string) => string;
}[] = [
  { locant: 2, smiles: (r, x) => `${r}c1ccccc1${x}` },
  { locant: 3, smiles: (r, x) => `${r}c1cccc(${x})c1` },
  { locant: 4, smiles: (r, x) => `${r}c1ccc(${x})cc1` },
];

/** The benzene ring with two hydrogens replaced. */
const RING: Atoms = { C: 6, H: 4 };

function* generate(): Generator<Molecule> {
  for (const [name, smiles, atoms] of NAMED) yield molecule(name, smiles, atoms);
  for (const series of CHAIN_SERIES) {
    for (let n = series.minCarbons; n <= STEMS.length; n += 1) {
      yield molecule(series.name(n), series.smiles(n), series.atoms(n));
    }
  }
  for (let n = 1; n <= 20; n += 1) {
    yield molecule(`${stem(n)}ylbenzene`, `${chain(n)}c1ccccc1`, add(RING, { H: 1 }, alkyl(n)));
  }
  // Disubstituted benzenes: an alkyl chain and one substituent, ortho, meta or para.
  for (let n = 1; n <= STEMS.length; n += 1) {
    for (const substituent of RING_SUBSTITUENTS) {
      for (const position of POSITIONS) {
        const alkylName = `${stem(n)}yl`;
        const name =
          substituent.parent !== undefined
            ? `${position.locant}-${alkylName}${substituent.parent}`
            : `1-${substituent.prefix}-${position.locant}-${alkylName}benzene`;
        yield molecule(
          name,
          position.smiles(chain(n), substituent.smiles),
          add(RING, alkyl(n), substituent.atoms),
        );
      }
    }
  }
  // Esters: alkyl alkanoates, e.g. ethyl butanoate.
  for (let acid = 1; acid <= 24; acid += 1) {
    for (let alcohol = 1; alcohol <= 16; alcohol += 1) {
      yield molecule(
        `${stem(alcohol)}yl ${stem(acid)}anoate`,
        `${chain(acid - 1)}C(=O)O${chain(alcohol)}`,
        { C: acid + alcohol, H: 2 * (acid + alcohol), O: 2 },
      );
    }
  }
  // Ethers and secondary amines of two straight chains.
  for (let first = 1; first <= 24; first += 1) {
    for (let second = first; second <= 24; second += 1) {
      const names = first === second ? `di${stem(first)}yl` : `${stem(first)}yl ${stem(second)}yl`;
      yield molecule(
        `${names} ether`,
        `${chain(first)}O${chain(second)}`,
        add(alkyl(first), alkyl(second), { O: 1 }),
      );
      yield molecule(
        `${names} sulfide`,
        `${chain(first)}S${chain(second)}`,
        add(alkyl(first), alkyl(second), { S: 1 }),
      );
      yield molecule(
        `${names} ketone`,
        `${chain(first)}C(=O)${chain(second)}`,
        add(alkyl(first), alkyl(second), { C: 1, O: 1 }),
      );
      yield molecule(
        first === second
          ? `N-${stem(first)}yl${stem(first)}an-1-amine`
          : `N-${stem(first)}yl${stem(second)}an-1-amine`,
        `${chain(first)}N${chain(second)}`,
        add(alkyl(first), alkyl(second), { N: 1, H: 1 }),
      );
    }
  }
}

let catalogue: readonly Molecule[] | undefined;

/**
 * A fixed catalogue of plausible, distinct molecules (about 5,000): well-known ones, then
 * homologous series whose formula and weight are computed from their atoms. The same list on
 * every run, so what the service seeds and imports is reproducible.
 */
export function moleculeCatalogue(): readonly Molecule[] {
  if (catalogue === undefined) {
    const seen = new Set<string>();
    const list: Molecule[] = [];
    for (const entry of generate()) {
      if (seen.has(entry.name)) continue;
      seen.add(entry.name);
      list.push(Object.freeze(entry));
    }
    catalogue = Object.freeze(list);
  }
  return catalogue;
}
