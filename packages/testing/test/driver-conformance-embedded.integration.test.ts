import { runDriverConformance } from '../src/conformance/index.js';
import { startPostgres } from '../src/index.js';
import { createTinyPgDriver } from './support/tiny-pg-driver.js';

// The fresh-laptop path: against embedded pglite the suite still runs what one backend can
// support and skips the rest with a printed reason.
runDriverConformance({
  name: 'tiny-pg on embedded pglite',
  createDriver: (target) => createTinyPgDriver(target),
  runQuery: (client, sql) => client.query(sql),
  startServer: () => startPostgres({ prefer: 'embedded', maxConnections: 10 }),
});
