import { describe, expect, it } from 'vitest';
import { redactSecrets, redactValue } from './redact.js';

describe('redactSecrets', () => {
  it.each([
    ['postgres://app:s3cr3t@db.local:5432/orders', 'postgres://app:***@db.local:5432/orders'],
    ['failed for postgresql://u:p%40ss@h/db today', 'failed for postgresql://u:***@h/db today'],
    ['host=h password=hunter2 user=u', 'host=h password=*** user=u'],
    ['{"password":"x"}', '{"password":"x"}'],
    ['apiKey: abc123', 'apiKey: ***'],
    ['(password=hunter2)', '(password=***)'],
    ['postgres://app@db/orders', 'postgres://app@db/orders'],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('removes a known secret value everywhere', () => {
    expect(redactValue('auth failed for hunter2 (hunter2)', 'hunter2')).toBe(
      'auth failed for *** (***)',
    );
    expect(redactValue('nothing', undefined)).toBe('nothing');
  });
});
