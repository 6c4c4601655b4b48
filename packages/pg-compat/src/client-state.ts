import type { Lease } from '@enhanced-pool/pool';
import type { CompatClient } from './compat-driver.js';

/**
 * What the pg-pool layer knows about one open client: when it connected (for `expiredCount`),
 * the lease it is out on (none while idle in the pool), and whether it already reported an
 * error to the pool's `error` event (pg-pool reports the first one only).
 */
export class ClientState {
  lease: Lease<CompatClient> | undefined = undefined;
  errored = false;

  constructor(
    readonly client: CompatClient,
    readonly createdAt: number,
  ) {}
}
