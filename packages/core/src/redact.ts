/**
 * `scheme://user:password@`. The password runs to the last `@` of the authority, so an
 * unencoded `@` inside it does not leave its tail visible.
 */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*)(:[^/?#\s"]*)?@/gi;

/** Any word naming a secret, including compounds: `PGPASSWORD`, `db_password`, `clientSecret`. */
const SECRET_KEY = String.raw`[\w-]*?(?:password|passwd|pwd|secret|token|api[_-]?key)[\w-]*`;
/** `=>` only after a quoted key (a `Map` in `util.inspect`): `password=>x` is the password `>x`. */
const QUOTED_KEY_SEPARATOR = String.raw`[ \t]*(?:=>|[=:])[ \t]*`;
const SEPARATOR = String.raw`[ \t]*[=:][ \t]*`;
/**
 * A quoted string with backslash escapes, as JSON, `util.inspect` (which picks whichever of the
 * three quotes the text lacks) and libpq's conninfo write it. `util.inspect` prints a long string
 * with line breaks as `'…\n' +` lines, so the pieces of a concatenation count as one value.
 */
const STRING = String.raw`(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\x60(?:[^\x60\\]|\\.)*\x60)`;
const QUOTED = String.raw`${STRING}(?:[ \t]*\+\s*${STRING})*`;
/** What libpq counts as whitespace between conninfo pairs: ASCII only, unlike `\s`. */
const BARE = String.raw`[^ \t\n\r\f\v]+`;

/**
 * `"password": "x"`, `'password' => 'x'`: a quoted key is JSON or JavaScript, where a string
 * cannot hold its unescaped quote and an unquoted value is a literal ending at `,`, `}` or `]`.
 */
const QUOTED_KEY_SECRET = new RegExp(
  String.raw`(["'\x60])(${SECRET_KEY})\1(${QUOTED_KEY_SEPARATOR})(${QUOTED}|[^\s,}\]]+)`,
  'gi',
);

/**
 * `password=x`, `password: 'x'`. After an unquoted key the text may be libpq's conninfo, where
 * only `'` quotes and a bare password may hold `"`, `;`, `&` or `)`. A quoted value therefore
 * counts only when nothing but closing punctuation follows it before the next space (as in
 * `util.inspect`'s `password: 'x',`); otherwise, and for any unquoted value, everything up to
 * the next space goes: we redact too much rather than leave a tail.
 */
const BARE_KEY_SECRET = new RegExp(
  String.raw`(?<![\w-])(${SECRET_KEY})(${SEPARATOR})(${QUOTED}(?=[,;)}\]]*(?:[ \t\n\r\f\v]|$))|${BARE})`,
  'gi',
);

/**
 * Removes credentials from free text: the password in `scheme://user:password@host` URLs and
 * the value of any key naming a secret (`password`, `secret`, `token`, `apiKey`, ...; any case,
 * also inside a compound such as `PGPASSWORD`) written as `key=value`, `key: value`,
 * `"key": "value"` (JSON), `key: 'value'` (`util.inspect`) or `key='value'` (libpq). A quoted
 * value keeps its quotes (`"password":"***"`); an unquoted one is redacted to the next
 * whitespace. Used on every message we build from a driver's error or a connection string, so
 * secrets never reach errors, logs or metrics.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_match, scheme: string, user: string, password?: string) =>
      password ? `${scheme}${user}:***@` : `${scheme}${user}@`,
    )
    .replace(
      QUOTED_KEY_SECRET,
      (_match, keyQuote: string, key: string, separator: string, value: string) =>
        `${keyQuote}${key}${keyQuote}${separator}${redactedValue(value)}`,
    )
    .replace(
      BARE_KEY_SECRET,
      (_match, key: string, separator: string, value: string) =>
        `${key}${separator}${redactedValue(value)}`,
    );
}

/** A quoted value keeps its quotes, so redacted JSON and `util.inspect` output still parse. */
function redactedValue(value: string): string {
  const quote = value[0];
  const quoted =
    (quote === '"' || quote === "'" || quote === '`') && value.length > 1 && value.endsWith(quote);
  return quoted ? `${quote}***${quote}` : '***';
}

/**
 * Removes one known secret value wherever it appears (a password given as a separate option
 * can show up verbatim in a client's error message).
 */
export function redactValue(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('***');
}
