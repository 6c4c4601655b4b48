export { classifyPgError } from './classify-pg-error.js';
export type {
  PgClientConfig,
  PgClientConstructor,
  PgClientLike,
  PgFieldLike,
  PgQueryResult,
  PgQueryResultLike,
  PgStreamLike,
} from './pg-client-like.js';
export { createPgDriver, type PgDriver } from './pg-driver.js';
export type { PgDriverOptions } from './pg-driver-options.js';
