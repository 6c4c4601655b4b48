import { InvalidOptionError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { moleculeCatalogue } from './molecule-catalogue.js';
import { parseImport, parseLimit, SEED_ROWS } from './molecules.js';

describe('moleculeCatalogue', () => {
  const catalogue = moleculeCatalogue();

  it('holds more distinct molecules than the seed, the same on every call', () => {
    expect(catalogue.length).toBeGreaterThan(SEED_ROWS + 100);
    expect(new Set(catalogue.map((molecule) => molecule.name)).size).toBe(catalogue.length);
    expect(moleculeCatalogue()).toBe(catalogue);
  });

  it('computes formulas in Hill order and weights from standard atomic weights', () => {
    const byName = new Map(catalogue.map((molecule) => [molecule.name, molecule]));
    expect(byName.get('caffeine')).toEqual({
      name: 'caffeine',
      formula: 'C8H10N4O2',
      smiles: 'CN1C=NC2=C1C(=O)N(C(=O)N2C)C',
      molecularWeight: 194.194,
    });
    expect(byName.get('water')).toMatchObject({ formula: 'H2O', molecularWeight: 18.015 });
    expect(byName.get('ethyl butanoate')).toMatchObject({
      formula: 'C6H12O2',
      smiles: 'CCCC(=O)OCC',
      molecularWeight: 116.16,
    });
    expect(byName.get('1-chloro-4-ethylbenzene')).toMatchObject({
      formula: 'C8H9Cl',
      smiles: 'CCc1ccc(Cl)cc1',
    });
    expect(byName.get('hexadecanoic acid')).toMatchObject({ formula: 'C16H32O2' });
  });

  it('gives every molecule a name, a formula, a SMILES and a plausible weight', () => {
    for (const molecule of catalogue) {
      expect(molecule.name).toMatch(/\S/);
      expect(molecule.formula).toMatch(/^([A-Z][a-z]?\d*)+$/);
      expect(molecule.smiles).toMatch(/^[A-Za-z0-9()=#[\]+\-@/\\]+$/);
      expect(molecule.molecularWeight).toBeGreaterThan(15);
      expect(molecule.molecularWeight).toBeLessThan(1_000);
    }
  });
});

describe('parseLimit', () => {
  it('defaults to 10 and accepts 1 to 500', () => {
    expect(parseLimit(null)).toBe(10);
    expect(parseLimit('')).toBe(10);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('500')).toBe(500);
  });

  it.each(['0', '501', '2.5', 'ten', '-3'])('refuses %s naming limit', (text) => {
    expect(() => parseLimit(text)).toThrow(InvalidOptionError);
    expect(() => parseLimit(text)).toThrow(/limit/);
  });
});

describe('parseImport', () => {
  const caffeine = {
    name: ' caffeine ',
    formula: 'C8H10N4O2',
    smiles: 'CN1C=NC2=C1C(=O)N(C(=O)N2C)C',
    molecularWeight: 194.19,
  };

  it('accepts 1 to 100 molecules, trimming their text', () => {
    expect(parseImport({ molecules: [caffeine] })).toEqual([{ ...caffeine, name: 'caffeine' }]);
  });

  it.each([
    [null, 'molecules'],
    [{}, 'molecules'],
    [{ molecules: [] }, 'molecules'],
    [{ molecules: Array.from({ length: 101 }, () => caffeine) }, 'molecules'],
    [{ molecules: [{ ...caffeine, name: '  ' }] }, 'molecules[0].name'],
    [{ molecules: [caffeine, { ...caffeine, smiles: 7 }] }, 'molecules[1].smiles'],
    [{ molecules: [{ ...caffeine, molecularWeight: 0 }] }, 'molecules[0].molecularWeight'],
    [{ molecules: [{ ...caffeine, molecularWeight: '194' }] }, 'molecules[0].molecularWeight'],
  ])('refuses %j naming %s', (body, field) => {
    try {
      parseImport(body);
      throw new Error('accepted');
    } catch (error) {
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(field);
    }
  });
});
