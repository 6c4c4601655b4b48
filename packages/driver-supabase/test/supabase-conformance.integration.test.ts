import {
  CONFORMANCE_EXEC_FUNCTION,
  runDriverConformance,
} from '@enhanced-pool/testing/conformance';
import type { SupabaseClient } from '@supabase/supabase-js';
import { createSupabaseDriver } from '../src/index.js';
import { prepareSupabaseDatabase } from './support/supabase-test-database.js';

// The shared suite over HTTP: supabase-js clients against the PostgREST test server in front of
// a real PostgreSQL, with the driver's default health check.
runDriverConformance<SupabaseClient>({
  name: 'driver-supabase',
  protocol: 'postgrest',
  prepareDatabase: prepareSupabaseDatabase,
  createDriver: (target) => createSupabaseDriver({ url: target.url!, key: target.key! }),
  runQuery: async (client, sql) =>
    await client.rpc(CONFORMANCE_EXEC_FUNCTION, { sql }).throwOnError(),
});
