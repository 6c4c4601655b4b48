import { runDriverConformance } from '../src/conformance/index.js';
import { createTinyPgDriver } from './support/tiny-pg-driver.js';

// The suite against a small driver written directly on pg: proves every check passes for an
// adapter that follows the contract (see driver-conformance-catches.integration.test.ts for
// the checks failing on one that doesn't).
runDriverConformance({
  name: 'tiny-pg',
  createDriver: (target) => createTinyPgDriver(target),
  runQuery: (client, sql) => client.query(sql),
});
