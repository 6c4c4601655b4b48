import { InvalidOptionError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { supabasePoolerConfig } from './supabase-pooler-config.js';

const project = {
  projectRef: 'abcdefghijklmnopqrst',
  password: 'db-password-7f3a',
  host: 'aws-0-eu-central-1.pooler.supabase.com',
};
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('supabasePoolerConfig', () => {
  it('gives session mode on 5432 with user postgres.<project-ref> and verified TLS', () => {
    expect(supabasePoolerConfig(project)).toEqual({
      host: 'aws-0-eu-central-1.pooler.supabase.com',
      port: 5432,
      database: 'postgres',
      user: 'postgres.abcdefghijklmnopqrst',
      password: 'db-password-7f3a',
      ssl: { rejectUnauthorized: true },
    });
  });

  it('gives transaction mode on 6543', () => {
    expect(supabasePoolerConfig({ ...project, mode: 'transaction' }).port).toBe(6543);
  });

  it('derives the host from a region, and keeps a custom role, database, ssl and ca', () => {
    const config = supabasePoolerConfig({
      projectRef: project.projectRef,
      password: project.password,
      region: 'us-east-1',
      user: 'reporting',
      database: 'analytics',
      ssl: { servername: 'pooler.example' },
      ca: PEM,
    });
    expect(config).toMatchObject({
      host: 'aws-0-us-east-1.pooler.supabase.com',
      user: 'reporting.abcdefghijklmnopqrst',
      database: 'analytics',
      ssl: { rejectUnauthorized: true, servername: 'pooler.example', ca: PEM },
    });
    expect(supabasePoolerConfig({ ...project, ssl: { rejectUnauthorized: false } }).ssl).toEqual({
      rejectUnauthorized: false,
    });
  });

  it.each([
    ['projectRef', { ...project, projectRef: 'short' }],
    ['projectRef', { ...project, projectRef: 'ABCDEFGHIJKLMNOPQRST' }],
    ['password', { ...project, password: '' }],
    ['mode', { ...project, mode: 'statement' }],
    ['host', { projectRef: project.projectRef, password: 'x' }],
    ['host', { ...project, host: 'not a host' }],
    ['region', { projectRef: project.projectRef, password: 'x', region: 'Frankfurt' }],
    ['user', { ...project, user: 'postgres.abcdefghijklmnopqrst' }],
    ['ca', { ...project, ca: 'not a certificate' }],
  ])('names "%s" when it is wrong, never showing the password', (option, options) => {
    try {
      supabasePoolerConfig(options as never);
      throw new Error('expected an error');
    } catch (error) {
      expect(InvalidOptionError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(option);
      expect(String(error)).not.toContain(project.password);
    }
  });
});
