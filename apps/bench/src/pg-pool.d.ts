/**
 * pg-pool 3.14 ships no type declarations (pg's `@types/pg` types it only as `pg.Pool` bound to
 * pg's own Client). This is the slice the bench uses, with the client class left generic so a
 * fake `Client` can be plugged in exactly as pg-pool allows (`options.Client`).
 */
declare module 'pg-pool' {
  import { EventEmitter } from 'node:events';

  interface PgPoolOptions {
    Client?: new (options: never) => unknown;
    max?: number;
    min?: number;
    idleTimeoutMillis?: number;
    connectionTimeoutMillis?: number;
    connectionString?: string;
    application_name?: string;
    allowExitOnIdle?: boolean;
  }

  interface PgPoolClient {
    release(error?: Error | boolean): void;
  }

  class Pool<TClient> extends EventEmitter {
    constructor(options?: PgPoolOptions);
    connect(): Promise<TClient & PgPoolClient>;
    query(text: string): Promise<unknown>;
    end(): Promise<void>;
    readonly totalCount: number;
    readonly idleCount: number;
    readonly waitingCount: number;
  }

  export default Pool;
}
