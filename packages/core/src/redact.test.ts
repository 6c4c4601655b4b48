import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { redactSecrets, redactValue } from './redact.js';

describe('redactSecrets', () => {
  it.each([
    ['postgres://app:s3cr3t@db.local:5432/orders', 'postgres://app:***@db.local:5432/orders'],
    ['failed for postgresql://u:p%40ss@h/db today', 'failed for postgresql://u:***@h/db today'],
    ['unencoded postgres://u:p@ss@h/db', 'unencoded postgres://u:***@h/db'],
    ['{"url":"postgres://u:s3cr3t@h/db","b":"x@y"}', '{"url":"postgres://u:***@h/db","b":"x@y"}'],
    ['host=h password=hunter2 user=u', 'host=h password=*** user=u'],
    ["host=h password='two words' user=u", "host=h password='***' user=u"],
    ["password='it\\'s' user=u", "password='***' user=u"],
    ['password="s3cr3t"', 'password="***"'],
    ['password="a"b user=u', 'password=*** user=u'],
    ['{"password":"s3cr3t"}', '{"password":"***"}'],
    [
      '{"user":"u", "password": "s3cr3t", "host":"h"}',
      '{"user":"u", "password": "***", "host":"h"}',
    ],
    ['{"password":"a\\"b","user":"u"}', '{"password":"***","user":"u"}'],
    ['{"token":12345,"user":"u"}', '{"token":***,"user":"u"}'],
    ["{'password':'s3cr3t'}", "{'password':'***'}"],
    ["{ password: 's3cr3t', user: 'u' }", "{ password: '***', user: 'u' }"],
    ["Map(1) { 'password' => 's3cr3t' }", "Map(1) { 'password' => '***' }"],
    ['PASSWORD=s3cr3t', 'PASSWORD=***'],
    ['PGPASSWORD=s3cr3t psql', 'PGPASSWORD=*** psql'],
    [
      '{"db_password":"s3cr3t","clientSecret":"s3cr3t"}',
      '{"db_password":"***","clientSecret":"***"}',
    ],
    ['apiKey: abc123', 'apiKey: ***'],
    ['x-api-key=abc123', 'x-api-key=***'],
    ['(password=hunter2)', '(password=***'],
    ['password=>s3cr3t user=u', 'password=*** user=u'],
    ['Password=a;b;c;Server=h', 'Password=***'],
    ['postgres://app@db/orders', 'postgres://app@db/orders'],
    [
      'password authentication failed for user "app"',
      'password authentication failed for user "app"',
    ],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it.each([
    ['JSON', JSON.stringify({ user: 'app', password: 's3cr3t' })],
    ['pretty JSON', JSON.stringify({ user: 'app', password: 's3cr3t' }, null, 2)],
    ['util.inspect', inspect({ user: 'app', password: 's3cr3t' })],
    ['util.inspect, nested', inspect({ config: { connection: { password: 's3cr3t' } } })],
    ['util.inspect, a Map', inspect(new Map([['password', 's3cr3t']]))],
    ['util.inspect, a long string split over lines', inspect({ password: 's3cr3t\n'.repeat(20) })],
    ['an error with the config', inspect(Object.assign(new Error('boom'), { password: 's3cr3t' }))],
    ['URL query', 'postgres://h/db?sslmode=require&password=s3cr3t&application_name=x'],
  ])('leaves no secret in %s', (_, text) => {
    expect(text).toContain('s3cr3t');
    expect(redactSecrets(text)).not.toContain('s3cr3t');
  });

  it('keeps a pretty-printed JSON config valid JSON', () => {
    const config = { host: 'db', password: 'it "quoted" \\ one', port: 5432 };
    const redacted = redactSecrets(JSON.stringify(config, null, 2));
    expect(JSON.parse(redacted)).toEqual({ ...config, password: '***' });
  });

  it('removes a known secret value everywhere', () => {
    expect(redactValue('auth failed for hunter2 (hunter2)', 'hunter2')).toBe(
      'auth failed for *** (***)',
    );
    expect(redactValue('nothing', undefined)).toBe('nothing');
  });
});
