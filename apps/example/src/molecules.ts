import { InvalidOptionError } from '@enhanced-pool/core';
import type { Pool } from '@enhanced-pool/pool';
import { type Molecule, moleculeCatalogue } from './molecule-catalogue.js';

export type { Molecule } from './molecule-catalogue.js';

/** The smallest client shape the service queries through (a `pg.Client` fits). */
export interface Queryable {
  query<TRow = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<{ rows: TRow[] }>;
}

/** A pool whose connections can run queries. */
export type MoleculesPool = Pool<Queryable>;

/** How many catalogue molecules the table starts with; the rest are what imports bring. */
export const SEED_ROWS = 3_000;

/** A stored molecule as the API returns it. */
export interface StoredMolecule extends Molecule {
  readonly id: number;
}

interface MoleculeRow {
  id: string | number;
  name: string;
  formula: string;
  smiles: string;
  molecular_weight: string | number;
}

const toMolecule = (row: MoleculeRow): StoredMolecule => ({
  id: Number(row.id),
  name: row.name,
  formula: row.formula,
  smiles: row.smiles,
  molecularWeight: Number(row.molecular_weight),
});

/** Rows per INSERT while seeding: few statements, each well under the protocol's limits. */
const SEED_BATCH = 500;

/**
 * Creates the `molecules` table if it is missing and, when it is empty, fills it with the first
 * {@link SEED_ROWS} molecules of the catalogue in one transaction. Safe to run at every start.
 * Resolves how many rows the table holds.
 */
export async function ensureMolecules(pool: MoleculesPool): Promise<number> {
  return pool.withConnection(async (client) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS molecules (
         id serial PRIMARY KEY,
         name text NOT NULL UNIQUE,
         formula text NOT NULL,
         smiles text NOT NULL,
         molecular_weight double precision NOT NULL
       )`,
    );
    const [existing] = (
      await client.query<{ count: number }>('SELECT count(*)::int AS count FROM molecules')
    ).rows;
    if ((existing?.count ?? 0) > 0) return existing?.count ?? 0;
    const seed = moleculeCatalogue().slice(0, SEED_ROWS);
    await client.query('BEGIN');
    try {
      for (let start = 0; start < seed.length; start += SEED_BATCH) {
        await insertMolecules(client, seed.slice(start, start + SEED_BATCH), 'ignore');
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    return seed.length;
  });
}

function insertMolecules(
  client: Queryable,
  molecules: readonly Molecule[],
  onConflict: 'ignore' | 'update',
): Promise<{ rows: MoleculeRow[] }> {
  const values: unknown[] = [];
  const tuples = molecules.map((molecule, index) => {
    values.push(molecule.name, molecule.formula, molecule.smiles, molecule.molecularWeight);
    const first = index * 4;
    return `($${first + 1}, $${first + 2}, $${first + 3}, $${first + 4})`;
  });
  const conflict =
    onConflict === 'ignore'
      ? 'ON CONFLICT (name) DO NOTHING'
      : `ON CONFLICT (name) DO UPDATE SET formula = excluded.formula, smiles = excluded.smiles,
           molecular_weight = excluded.molecular_weight`;
  return client.query<MoleculeRow>(
    `INSERT INTO molecules (name, formula, smiles, molecular_weight) VALUES ${tuples.join(', ')}
     ${conflict} RETURNING id, name, formula, smiles, molecular_weight`,
    values,
  );
}

/** Largest `limit` of {@link listMolecules}. */
export const MAX_LIST_LIMIT = 500;

/** Checks a `limit` query parameter: an integer from 1 to {@link MAX_LIST_LIMIT}, default 10. */
export function parseLimit(text: string | null): number {
  if (text === null || text === '') return 10;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidOptionError('limit', text, `an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  return limit;
}

/** `SELECT * FROM molecules LIMIT n`: the query of the pool's own usage example. */
export async function listMolecules(
  pool: MoleculesPool,
  options: { limit?: number; signal?: AbortSignal } = {},
): Promise<StoredMolecule[]> {
  const limit = options.limit ?? 10;
  const { rows } = await pool.withConnection(
    (client) => client.query<MoleculeRow>('SELECT * FROM molecules LIMIT $1', [limit]),
    // A read: safe to run again on a fresh connection if a stale idle one had died.
    { idempotent: true, ...(options.signal === undefined ? {} : { signal: options.signal }) },
  );
  return rows.map(toMolecule);
}

/** Most molecules one import may carry. */
export const MAX_IMPORT = 100;

/** Checks the body of `POST /molecules`: `{ molecules: [{ name, formula, smiles, molecularWeight }] }`. */
export function parseImport(body: unknown): Molecule[] {
  const list = (body as { molecules?: unknown } | null)?.molecules;
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_IMPORT) {
    throw new InvalidOptionError(
      'molecules',
      Array.isArray(list) ? `${list.length} items` : list,
      `an array of 1 to ${MAX_IMPORT} molecules`,
    );
  }
  return list.map((item: unknown, index) => {
    const field = (name: string) => `molecules[${index}].${name}`;
    const { name, formula, smiles, molecularWeight } = (item ?? {}) as Record<string, unknown>;
    for (const [key, value] of [
      ['name', name],
      ['formula', formula],
      ['smiles', smiles],
    ] as const) {
      if (typeof value !== 'string' || value.trim() === '' || value.length > 200) {
        throw new InvalidOptionError(
          field(key),
          value,
          'a non-blank string of up to 200 characters',
        );
      }
    }
    if (
      typeof molecularWeight !== 'number' ||
      !Number.isFinite(molecularWeight) ||
      molecularWeight <= 0 ||
      molecularWeight > 100_000
    ) {
      throw new InvalidOptionError(
        field('molecularWeight'),
        molecularWeight,
        'a number of g/mol above 0 and up to 100000',
      );
    }
    return {
      name: (name as string).trim(),
      formula: (formula as string).trim(),
      smiles: (smiles as string).trim(),
      molecularWeight,
    };
  });
}

/**
 * Imports molecules in one transaction: all of them are stored (a name already present is
 * updated), or none. Resolves the stored rows.
 */
export async function importMolecules(
  pool: MoleculesPool,
  molecules: readonly Molecule[],
  options: { signal?: AbortSignal } = {},
): Promise<StoredMolecule[]> {
  return pool.withConnection(async (client) => {
    await client.query('BEGIN');
    try {
      const { rows } = await insertMolecules(client, molecules, 'update');
      await client.query('COMMIT');
      return rows.map(toMolecule);
    } catch (error) {
      // A connection that failed mid-transaction is destroyed by the pool; the server rolls back.
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }, options);
}

/** Molecules per import the load generator sends. */
const IMPORT_SIZE = 3;

/**
 * The load generator's unit of work: nine reads of `SELECT * FROM molecules LIMIT 10` for every
 * import of three catalogue molecules beyond the seed, in a transaction. Imports re-store the
 * same few hundred names, so the table stays bounded however long the load runs.
 */
export function moleculeTraffic(
  pool: MoleculesPool,
  random: () => number = Math.random,
): (signal: AbortSignal) => Promise<unknown> {
  const importable = moleculeCatalogue().slice(SEED_ROWS);
  return (signal) => {
    if (importable.length > 0 && random() < 0.1) {
      const start = Math.floor(random() * importable.length);
      const batch = Array.from(
        { length: IMPORT_SIZE },
        (_, offset) => importable[(start + offset) % importable.length] as Molecule,
      );
      return importMolecules(pool, batch, { signal });
    }
    return listMolecules(pool, { limit: 10, signal });
  };
}
