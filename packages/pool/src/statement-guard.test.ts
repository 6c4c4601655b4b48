import { EnhancedPoolError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { findSessionStatement, tokenize } from './statement-guard.js';
import { StatementRefusedError } from './statement-guard-error.js';

describe('findSessionStatement', () => {
  it.each([
    'SELECT 1',
    'select * from users where id = $1',
    'INSERT INTO t (a) VALUES ($1) RETURNING id',
    "SELECT 'BEGIN; SET x = 1'",
    "SELECT E'it\\'s; BEGIN'",
    'SELECT $$; BEGIN $$, $fn$ LISTEN x $fn$',
    '-- BEGIN\nSELECT 1',
    '/* COMMIT /* nested */ ROLLBACK */ SELECT 1',
    'SELECT "begin" FROM t',
    'SET LOCAL statement_timeout = 1000',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SET CONSTRAINTS ALL DEFERRED',
    "SELECT set_config('app.user', $1, true)",
    'SELECT pg_advisory_xact_lock(1)',
    'NOTIFY jobs',
    'WITH x AS (SELECT 1) SELECT * FROM x',
    '(SELECT 1) UNION (SELECT 2)',
    'UPDATE t SET a = 1',
    'ALTER ROLE app SET search_path = public',
    'CREATE TABLE t (a int)',
    'SELECT a INTO archive FROM t',
    'SELECT 1; SELECT 2;',
    '  \n\t SELECT 1  ',
    ';;',
    '',
  ])('lets %j through', (text) => {
    expect(findSessionStatement(text)).toBeUndefined();
  });

  it.each([
    ['BEGIN', 'BEGIN'],
    ['begin isolation level serializable', 'BEGIN'],
    ['START TRANSACTION', 'START TRANSACTION'],
    ['COMMIT', 'COMMIT'],
    ['END', 'END'],
    ['ROLLBACK', 'ROLLBACK'],
    ['ABORT', 'ABORT'],
    ['SAVEPOINT a', 'SAVEPOINT'],
    ['RELEASE SAVEPOINT a', 'RELEASE'],
    ['PREPARE q AS SELECT 1', 'PREPARE'],
    ["PREPARE TRANSACTION 'x'", 'PREPARE'],
    ['EXECUTE q', 'EXECUTE'],
    ['DEALLOCATE ALL', 'DEALLOCATE'],
    ['SET search_path = app', 'SET without LOCAL'],
    ['set session statement_timeout = 0', 'SET without LOCAL'],
    ['SET ROLE admin', 'SET without LOCAL'],
    ['SET TIME ZONE UTC', 'SET without LOCAL'],
    ['RESET ALL', 'RESET'],
    ['DISCARD ALL', 'DISCARD'],
    ['LISTEN jobs', 'LISTEN'],
    ['UNLISTEN *', 'UNLISTEN'],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', 'DECLARE'],
    ['FETCH 10 FROM c', 'FETCH'],
    ['MOVE NEXT IN c', 'MOVE'],
    ['CLOSE c', 'CLOSE'],
    ["LOAD 'auto_explain'", 'LOAD'],
    ['CREATE TEMP TABLE t (a int)', 'CREATE TEMPORARY'],
    ['create local temporary table t (a int)', 'CREATE TEMPORARY'],
    ['CREATE OR REPLACE TEMP VIEW v AS SELECT 1', 'CREATE TEMPORARY'],
    ['SELECT * INTO TEMP t FROM users', 'SELECT INTO TEMPORARY'],
    ['SELECT pg_advisory_lock(1)', 'pg_advisory_lock()'],
    ['SELECT pg_catalog.pg_try_advisory_lock(1, 2)', 'pg_try_advisory_lock()'],
    ['WITH l AS (SELECT "pg_advisory_lock"(7)) SELECT 1', 'pg_advisory_lock()'],
    ['SELECT pg_advisory_unlock_all()', 'pg_advisory_unlock_all()'],
    ["SELECT set_config('search_path', 'app', false)", 'set_config()'],
    ["SELECT set_config('a', 'b', $3)", 'set_config()'],
    ['  -- a comment first\n  /* and another */ BEGIN', 'BEGIN'],
    ['(((BEGIN)))', 'BEGIN'],
  ])('refuses %j', (text, expected) => {
    expect(findSessionStatement(text)).toContain(expected);
  });

  it('finds a session statement behind others in one string, and says which', () => {
    expect(findSessionStatement('SELECT 1; BEGIN; SELECT 2')).toBe(
      'statement 2: BEGIN (a transaction)',
    );
    expect(findSessionStatement("SELECT ';'; SET a = 1")).toBe(
      'statement 2: SET without LOCAL (a session setting)',
    );
    expect(findSessionStatement('SELECT 1 -- ; BEGIN\n; COMMIT')).toBe('statement 2: COMMIT');
  });

  it('treats an unterminated literal or comment as running to the end (nothing after it counts)', () => {
    expect(findSessionStatement("SELECT 'BEGIN")).toBeUndefined();
    expect(findSessionStatement('SELECT 1 /* ; BEGIN')).toBeUndefined();
    expect(findSessionStatement('SELECT $x$ ; BEGIN')).toBeUndefined();
  });

  it('answers again from its cache with the same verdict', () => {
    expect(findSessionStatement('LISTEN again')).toBe('LISTEN');
    expect(findSessionStatement('LISTEN again')).toBe('LISTEN');
    expect(findSessionStatement('SELECT again')).toBeUndefined();
    expect(findSessionStatement('SELECT again')).toBeUndefined();
  });

  it('tells parameters from dollar quotes', () => {
    expect(
      tokenize('SELECT $1, $2')
        .flat()
        .map((token) => token.value),
    ).toEqual(['select', '$', ',', '$']);
  });
});

describe('StatementRefusedError', () => {
  it('names what was refused and points at leases, never quoting the text', () => {
    const error = new StatementRefusedError('session-state', 'BEGIN (a transaction)', {
      poolName: 'orders',
    });
    expect(error.code).toBe('STATEMENT_REFUSED');
    expect(error.reason).toBe('session-state');
    expect(error.message).toContain('Pool "orders": pool.query() refused BEGIN (a transaction)');
    expect(error.message).toContain('pool.withConnection');
    expect(StatementRefusedError.isInstance(error)).toBe(true);
    expect(EnhancedPoolError.isInstance(error)).toBe(true);
    expect(StatementRefusedError.isInstance(new Error('x'))).toBe(false);

    const noQuery = new StatementRefusedError('no-driver-query', undefined, { driverName: 'x' });
    expect(noQuery.message).toContain('driver "x" has none');
  });
});
