const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*)(:[^@/\s]*)?@/gi;
const KEY_VALUE_SECRET =
  /\b(password|passwd|pwd|secret|token|api[_-]?key|apikey)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,)]+)/gi;

/**
 * Removes credentials from free text: the password in `scheme://user:password@host` URLs and
 * `password=…`-style pairs. Used on every message we build from a driver's error or a
 * connection string, so secrets never reach errors, logs or metrics.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_match, scheme: string, user: string, password?: string) =>
      password ? `${scheme}${user}:***@` : `${scheme}${user}@`,
    )
    .replace(KEY_VALUE_SECRET, (_match, key: string, separator: string) => `${key}${separator}***`);
}

/**
 * Removes one known secret value wherever it appears (a password given as a separate option
 * can show up verbatim in a client's error message).
 */
export function redactValue(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('***');
}
