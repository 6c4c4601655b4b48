import { EnhancedPoolError, ERROR_REASONS, type ErrorReason } from '@enhanced-pool/core';

/**
 * Node socket, DNS and TLS error codes (`error.code` on errors from `net`, `dns` and `tls`), by
 * reason. Checked before SQLSTATEs: `EPIPE` is five capital letters too.
 */
const SYSTEM_CODES: ReadonlyMap<string, ErrorReason> = new Map<string, ErrorReason>([
  // The network path or the server process is gone; trying again later may work.
  ['ECONNREFUSED', 'connection'],
  ['ECONNRESET', 'connection'],
  ['ECONNABORTED', 'connection'],
  ['ETIMEDOUT', 'connection'],
  ['EPIPE', 'connection'],
  ['EHOSTUNREACH', 'connection'],
  ['EHOSTDOWN', 'connection'],
  ['ENETUNREACH', 'connection'],
  ['ENETDOWN', 'connection'],
  ['ENETRESET', 'connection'],
  ['EADDRNOTAVAIL', 'connection'],
  // A temporary DNS failure (the resolver did not answer), unlike ENOTFOUND below.
  ['EAI_AGAIN', 'connection'],
  // The name does not resolve: a wrong host, which retrying will not fix.
  ['ENOTFOUND', 'configuration'],
  ['ERR_INVALID_URL', 'configuration'],
  ['ERR_SOCKET_BAD_PORT', 'configuration'],
  // TLS: the server's certificate does not satisfy the `ssl` options.
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'configuration'],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'configuration'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'configuration'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'configuration'],
  ['UNABLE_TO_GET_ISSUER_CERT', 'configuration'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'configuration'],
  ['CERT_HAS_EXPIRED', 'configuration'],
  ['CERT_NOT_YET_VALID', 'configuration'],
  ['CERT_UNTRUSTED', 'configuration'],
]);

/** Single SQLSTATEs whose reason differs from the one of their class. */
const SQLSTATES: ReadonlyMap<string, ErrorReason> = new Map<string, ErrorReason>([
  // query_canceled: statement_timeout, or pg_cancel_backend().
  ['57014', 'timeout'],
  // admin_shutdown (pg_terminate_backend, fast shutdown), crash_shutdown, cannot_connect_now
  // (starting up or shutting down), idle_session_timeout: the session is gone.
  ['57P01', 'connection'],
  ['57P02', 'connection'],
  ['57P03', 'connection'],
  ['57P05', 'connection'],
  // database_dropped: the configured database no longer exists.
  ['57P04', 'configuration'],
  // idle_in_transaction_session_timeout: the server ended the session.
  ['25P03', 'connection'],
  // invalid_catalog_name: "database … does not exist".
  ['3D000', 'configuration'],
]);

/** SQLSTATE classes (first two characters) with one reason for the whole class. */
const SQLSTATE_CLASSES: ReadonlyMap<string, ErrorReason> = new Map<string, ErrorReason>([
  // connection_exception (08000, 08003, 08006, 08001, 08004, 08P01 …)
  ['08', 'connection'],
  // invalid_authorization_specification (28000: unknown role, no pg_hba.conf entry; 28P01:
  // wrong password)
  ['28', 'authentication'],
  // insufficient_resources (53300 too_many_connections, 53100 disk_full, 53200 out_of_memory)
  ['53', 'resource-exhausted'],
  // config_file_error
  ['F0', 'configuration'],
]);

/**
 * Errors `pg` raises with a message and no code, matched on the start of the message. These are
 * pg's own strings (checked against pg 8.23.1 in the captured fixtures), not server text.
 */
const PG_MESSAGES: readonly (readonly [prefix: string, reason: ErrorReason])[] = [
  // pg-pool's connectionTimeoutMillis; listed before its shorter prefix below.
  ['Connection terminated due to connection timeout', 'timeout'],
  // The socket closed under the client ("… unexpectedly"), or after end() ("Connection terminated").
  ['Connection terminated', 'connection'],
  ['Client has encountered a connection error and is not queryable', 'connection'],
  ['Client was closed and is not queryable', 'connection'],
  // The protocol is out of step with the server: the connection can't be trusted.
  ['Received unexpected', 'connection'],
  // pg's Client connectionTimeoutMillis.
  ['timeout expired', 'timeout'],
  // pg's query_timeout (client side; the statement may still run on the server).
  ['Query read timeout', 'timeout'],
  ['The server does not support SSL connections', 'configuration'],
  ['There was an error establishing an SSL connection', 'configuration'],
  ['Invalid sslnegotiation value', 'configuration'],
  ['sslnegotiation=direct requires SSL', 'configuration'],
  ['Password must be a string', 'configuration'],
  // SCRAM failed on the client side: no password for a role that needs one, or the server's
  // signature did not match.
  ['SASL:', 'authentication'],
];

const SQLSTATE = /^[0-9A-Z]{5}$/;
const MAX_CAUSE_DEPTH = 5;

/**
 * Sorts an error from `pg` (or from this driver) into the closed set of {@link ErrorReason}s that
 * pool policy is decided from. It is the `classifyError` of the driver `createPgDriver()`
 * returns, exported so code outside the pool (a retry wrapper, a health endpoint) classifies
 * the same way.
 *
 * In order:
 * 1. An enhanced-pool error that carries a `reason` (`ConnectError`, `ValidationError`) keeps it.
 * 2. Node socket/DNS/TLS codes: refused, reset, timed out, broken pipe, unreachable →
 *    `connection`; `ENOTFOUND` (the host name does not resolve) and certificate failures →
 *    `configuration`.
 * 3. SQLSTATEs: class 08, 57P01–57P03, 57P05 and 25P03 → `connection`; 57014 → `timeout`;
 *    class 28 → `authentication`; 3D000 and 57P04 → `configuration`; class 53 →
 *    `resource-exhausted`; any other SQLSTATE → `query`.
 * 4. pg's own message-only errors ("Connection terminated unexpectedly", connect and read
 *    timeouts, SSL and SCRAM failures).
 * 5. `TimeoutError` (this driver's validation deadline, `AbortSignal.timeout()`) and
 *    `AbortError` (the caller's signal, usually a deadline) → `timeout`.
 * 6. Otherwise the `cause` chain (and an `AggregateError`'s `errors`), else `unknown`.
 */
export function classifyPgError(error: unknown): ErrorReason {
  return classify(error, 0);
}

function classify(error: unknown, depth: number): ErrorReason {
  if (typeof error !== 'object' || error === null || depth > MAX_CAUSE_DEPTH) return 'unknown';
  const fields = error as {
    readonly reason?: unknown;
    readonly code?: unknown;
    readonly message?: unknown;
    readonly name?: unknown;
    readonly cause?: unknown;
    readonly errors?: unknown;
  };

  if (isErrorReason(fields.reason) && EnhancedPoolError.isInstance(error)) return fields.reason;

  if (typeof fields.code === 'string') {
    const system = SYSTEM_CODES.get(fields.code);
    if (system !== undefined) return system;
    // ENOENT from connect(): the Unix socket file is missing, i.e. no server is running there.
    if (fields.code === 'ENOENT' && (error as { syscall?: unknown }).syscall === 'connect') {
      return 'connection';
    }
    if (SQLSTATE.test(fields.code)) return classifySqlState(fields.code);
  }

  if (typeof fields.message === 'string') {
    for (const [prefix, reason] of PG_MESSAGES) {
      if (fields.message.startsWith(prefix)) return reason;
    }
  }

  if (fields.name === 'TimeoutError' || fields.name === 'AbortError') return 'timeout';

  if (fields.cause !== undefined) {
    const reason = classify(fields.cause, depth + 1);
    if (reason !== 'unknown') return reason;
  }
  if (Array.isArray(fields.errors)) {
    for (const inner of fields.errors) {
      const reason = classify(inner, depth + 1);
      if (reason !== 'unknown') return reason;
    }
  }
  return 'unknown';
}

function classifySqlState(code: string): ErrorReason {
  return SQLSTATES.get(code) ?? SQLSTATE_CLASSES.get(code.slice(0, 2)) ?? 'query';
}

function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && (ERROR_REASONS as readonly string[]).includes(value);
}
