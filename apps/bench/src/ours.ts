import type { Driver } from '@enhanced-pool/core';

/**
 * Our packages are written alongside this bench, so each is loaded at run time and checked for
 * the export a section needs. A section whose package has not landed prints "not available
 * yet" instead of failing the whole run. The shapes below are the slice of each public API the
 * bench uses.
 */

/** The slice of a pool lease the bench uses. */
export interface OurLease<TConnection> {
  readonly connection: TConnection;
  release(): unknown;
  destroy(error?: unknown): unknown;
}

/** The slice of `@enhanced-pool/pool` the bench uses. */
export interface OurPool<TConnection> {
  acquire(options?: { signal?: AbortSignal }): Promise<OurLease<TConnection>>;
  withConnection<TResult>(fn: (connection: TConnection) => Promise<TResult>): Promise<TResult>;
  ready(): Promise<void>;
  close(options?: { timeoutMs?: number }): Promise<void>;
  getStats(): Readonly<Record<string, unknown>>;
}

export interface OurPoolOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly minSize?: number;
  readonly maxSize?: number;
  readonly acquireTimeoutMs?: number;
  readonly name?: string;
}

export interface PoolModule {
  createPool<TConnection>(options: OurPoolOptions<TConnection>): OurPool<TConnection>;
}

/** A module if it loads and has the export, else the reason it is not available. */
export type Loaded<T> = { readonly module: T } | { readonly missing: string };

async function load<T>(specifier: string, exportName: string): Promise<Loaded<T>> {
  try {
    // A variable specifier keeps TypeScript from typing the module as it is today (empty
    // placeholders while the packages are being written); the shapes above are the contract.
    const module: Record<string, unknown> = await import(specifier);
    if (typeof module[exportName] !== 'function') {
      return { missing: `${specifier} does not export ${exportName}() yet` };
    }
    return { module: module as T };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      missing:
        code === 'ERR_MODULE_NOT_FOUND'
          ? `${specifier} is not built (no dist)`
          : `${specifier} could not be loaded (${(error as Error).message})`,
    };
  }
}

export const loadPool = (): Promise<Loaded<PoolModule>> =>
  load('@enhanced-pool/pool', 'createPool');
