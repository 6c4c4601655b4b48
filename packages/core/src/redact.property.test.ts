import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redact.js';

/** Any code point, control characters, quotes, backslashes and non-ASCII spaces included. */
const secretArbitrary = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1 }),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 120 }),
  fc.stringMatching(/^["'`\\ ,;)}\]=:>@&+]{1,8}$/),
);
const keyArbitrary = fc.constantFrom('password', 'PASSWORD', 'Password', 'pwd', 'secret', 'apiKey');

/**
 * libpq's conninfo rule: a value that is empty or holds whitespace, `'` or `\` must be written
 * in single quotes with those two escaped. We also quote one that starts with `"` or a backtick
 * (libpq allows quoting any value): unquoted, `password="a",` cannot be told from
 * `util.inspect`'s `password: "a",`, and the redactor reads it the second way.
 */
function conninfoValue(value: string): string {
  const mustQuote = value === '' || /[ \t\n\r\f\v'\\]/.test(value) || /^["`]/.test(value);
  return mustQuote ? `'${value.replace(/['\\]/g, '\\$&')}'` : value;
}

describe('redactSecrets leaves no generated secret behind', () => {
  it('in a URL', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), secretArbitrary, (user, secret) => {
        const url = (password: string) =>
          `connect to postgres://${encodeURIComponent(user)}:${password}@db.local:5432/app failed`;
        expect(redactSecrets(url(encodeURIComponent(secret)))).toBe(url('***'));
      }),
    );
  });

  it('in key=value pairs (libpq conninfo)', () => {
    fc.assert(
      fc.property(keyArbitrary, secretArbitrary, (key, secret) => {
        const written = conninfoValue(secret);
        const redacted = written.startsWith("'") ? "'***'" : '***';
        expect(redactSecrets(`host=db ${key}=${written} user=app`)).toBe(
          `host=db ${key}=${redacted} user=app`,
        );
      }),
    );
  });

  it('in JSON, compact and pretty', () => {
    fc.assert(
      fc.property(keyArbitrary, secretArbitrary, fc.boolean(), (key, secret, pretty) => {
        const json = (password: string) =>
          JSON.stringify({ user: 'app', [key]: password, port: 5432 }, null, pretty ? 2 : 0);
        expect(redactSecrets(json(secret))).toBe(json('***'));
      }),
    );
  });

  it('in util.inspect output', () => {
    fc.assert(
      fc.property(keyArbitrary, secretArbitrary, (key, secret) => {
        const redacted = redactSecrets(inspect({ user: 'app', [key]: secret, port: 5432 }));
        // inspect's output for plain data is a JavaScript literal: reading it back shows
        // exactly what is left, whichever quotes and line breaks inspect chose.
        const readBack = runInNewContext(`(${redacted})`) as Record<string, unknown>;
        expect(readBack[key]).toBe('***');
        expect(readBack.user).toBe('app');
        expect(readBack.port).toBe(5432);
      }),
    );
  });
});
