import type { ConnectionOptions } from 'node:tls';
import { InvalidOptionError, stringOption } from '@enhanced-pool/core';

/**
 * Which of Supabase's pooler (Supavisor) modes to use:
 * - `session` (port 5432): one server connection per client connection for as long as it is
 *   open. Everything PostgreSQL offers works; use it for a long-running service with its own
 *   pool (this package's pool).
 * - `transaction` (port 6543): a server connection only for the length of each transaction,
 *   shared between clients. Scales to many short-lived clients (serverless), but forbids
 *   anything that outlives a transaction: session state (`SET` without `LOCAL`, temporary
 *   tables), named prepared statements (`pg`'s `query({ name })`), session advisory locks
 *   (`pg_advisory_lock`; use `pg_advisory_xact_lock`), `LISTEN`/`NOTIFY` delivery, and
 *   `WITH HOLD` cursors.
 */
export type SupabasePoolerMode = 'session' | 'transaction';

/** Options of {@link supabasePoolerConfig}: the project settings the dashboard shows. */
export interface SupabasePoolerOptions {
  /** The project reference: the `<project-ref>` of `https://<project-ref>.supabase.co`. */
  readonly projectRef: string;
  /** The database password (Project settings → Database). */
  readonly password: string;
  /**
   * The pooler's host, as the dashboard's Connect dialog shows it, e.g.
   * `aws-0-eu-central-1.pooler.supabase.com`. Give `host` or `region`.
   * @default `aws-0-<region>.pooler.supabase.com`
   */
  readonly host?: string;
  /**
   * The project's region, e.g. `eu-central-1`, when `host` is not given. Newer projects may
   * be on another cluster (`aws-1-…`): prefer `host` from the dashboard.
   * @default undefined
   */
  readonly region?: string;
  /**
   * `session` (port 5432) or `transaction` (port 6543); see {@link SupabasePoolerMode}.
   * @default 'session'
   */
  readonly mode?: SupabasePoolerMode;
  /**
   * The database role before the `.<project-ref>` suffix the pooler routes by.
   * @default 'postgres'
   */
  readonly user?: string;
  /**
   * @default 'postgres'
   */
  readonly database?: string;
  /**
   * TLS options. The pooler requires TLS; by default the certificate is verified against
   * Node's trusted CAs plus `ca`. Supabase signs its database certificates with its own CA:
   * download it from Project settings → Database → SSL and pass it as `ca`, or pass
   * `ssl: { rejectUnauthorized: false }` to encrypt without verifying (not recommended).
   * @default { rejectUnauthorized: true, ca }
   */
  readonly ssl?: ConnectionOptions;
  /**
   * The CA certificate (PEM) to verify the pooler with, added to `ssl`.
   * @default undefined
   */
  readonly ca?: string;
}

/** A `pg` client configuration for Supabase's pooler; pass it as driver-pg's `config`. */
export interface SupabasePoolerConfig {
  readonly host: string;
  readonly port: 5432 | 6543;
  readonly database: string;
  /** `<user>.<project-ref>`: the pooler serves every project and routes by this name. */
  readonly user: string;
  readonly password: string;
  readonly ssl: ConnectionOptions;
}

const PROJECT_REF = /^[a-z0-9]{20}$/;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/**
 * Turns Supabase project settings into a `pg` configuration for Supabase's pooler, so
 * `@enhanced-pool/driver-pg` serves the project's PostgreSQL directly: session mode on port
 * 5432, transaction mode on 6543, user `postgres.<project-ref>`, TLS verified.
 *
 * @example
 * import { createPgDriver } from '@enhanced-pool/driver-pg';
 * import { supabasePoolerConfig } from '@enhanced-pool/driver-supabase';
 *
 * const driver = createPgDriver({
 *   config: supabasePoolerConfig({
 *     projectRef: 'abcdefghijklmnopqrst',
 *     password: process.env.SUPABASE_DB_PASSWORD,
 *     host: 'aws-0-eu-central-1.pooler.supabase.com',
 *     ca: readFileSync('prod-supabase.crt', 'utf8'),
 *   }),
 * });
 */
export function supabasePoolerConfig(options: SupabasePoolerOptions): SupabasePoolerConfig {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'an object with projectRef and password');
  }
  const projectRef = options.projectRef;
  if (typeof projectRef !== 'string' || !PROJECT_REF.test(projectRef)) {
    throw new InvalidOptionError(
      'projectRef',
      projectRef,
      'the 20-character project reference of https://<project-ref>.supabase.co (a–z, 0–9)',
    );
  }
  if (typeof options.password !== 'string' || options.password === '') {
    throw new InvalidOptionError(
      'password',
      options.password === undefined ? undefined : '[not shown]',
      'the database password, a non-empty string',
    );
  }
  const mode = options.mode ?? 'session';
  if (mode !== 'session' && mode !== 'transaction') {
    throw new InvalidOptionError(
      'mode',
      mode,
      "'session' (port 5432) or 'transaction' (port 6543)",
    );
  }
  let host: string;
  if (options.host !== undefined) {
    if (typeof options.host !== 'string' || !HOST_NAME.test(options.host)) {
      throw new InvalidOptionError(
        'host',
        options.host,
        'a host name such as aws-0-eu-central-1.pooler.supabase.com',
      );
    }
    host = options.host;
  } else if (options.region !== undefined) {
    if (typeof options.region !== 'string' || !REGION.test(options.region)) {
      throw new InvalidOptionError('region', options.region, 'an AWS region such as eu-central-1');
    }
    host = `aws-0-${options.region}.pooler.supabase.com`;
  } else {
    throw new InvalidOptionError('host', undefined, "the pooler's host name (or a region)");
  }
  const user = stringOption('user', options.user, 'postgres');
  if (user.includes('.')) {
    throw new InvalidOptionError('user', user, 'the role name without the .<project-ref> suffix');
  }
  const database = stringOption('database', options.database, 'postgres');
  if (options.ssl !== undefined && (typeof options.ssl !== 'object' || options.ssl === null)) {
    throw new InvalidOptionError('ssl', options.ssl, 'node:tls ConnectionOptions');
  }
  if (
    options.ca !== undefined &&
    (typeof options.ca !== 'string' || !options.ca.includes('BEGIN CERTIFICATE'))
  ) {
    throw new InvalidOptionError(
      'ca',
      '[not a PEM certificate]',
      'a PEM certificate (-----BEGIN CERTIFICATE-----)',
    );
  }
  const ssl: ConnectionOptions = {
    rejectUnauthorized: true,
    ...options.ssl,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  };
  return {
    host,
    port: mode === 'session' ? 5432 : 6543,
    database,
    user: `${user}.${projectRef}`,
    password: options.password,
    ssl,
  };
}
