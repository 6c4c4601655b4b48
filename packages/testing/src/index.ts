export {
  createFakeClock,
  type FakeClock,
  type FakeClockOptions,
} from './fake-clock.js';
export {
  createFakeDriver,
  type FakeConnection,
  type FakeDriver,
  type FakeDriverCounters,
  FakeDriverError,
  type FakeDriverOptions,
  type FakeQueryResult,
} from './fake-driver.js';
export {
  createFaultProxy,
  type FaultProxy,
  type FaultProxyBlackholeOptions,
  type FaultProxyMode,
  type FaultProxyOptions,
  type FaultProxyOutageOptions,
  type FaultProxyStatus,
  type FaultProxyTarget,
} from './fault-proxy/fault-proxy.js';
export {
  PgBouncerError,
  type PgBouncerErrorCode,
  type PgBouncerPoolMode,
  type PgBouncerServer,
  type StartPgBouncerOptions,
} from './pgbouncer/pgbouncer-server.js';
export { pgBouncerUnavailable, startPgBouncer } from './pgbouncer/start-pgbouncer.js';
export {
  type CountConnectionsFilter,
  missingCapability,
  type PostgresCapabilities,
  type PostgresCapability,
  type PostgresPasswordRole,
  type PostgresPreference,
  type PostgresServer,
  PostgresServerError,
  type PostgresServerErrorCode,
  type PostgresServerKind,
  type RestartOptions,
  type StartPostgresOptions,
  type TerminateBackendsFilter,
} from './postgres/postgres-server.js';
export { startPostgres } from './postgres/start-postgres.js';
export {
  type InjectFaultOptions,
  POSTGREST_TEST_APPLICATION_NAME,
  type PostgrestTestFault,
  type PostgrestTestRequest,
  type PostgrestTestServer,
  type PostgrestTestServerOptions,
  startPostgrestTestServer,
} from './postgrest/postgrest-test-server.js';
export {
  DEFAULT_REDIS_SERVER,
  type RedisServer,
  RedisServerError,
  type RedisServerErrorCode,
  redisUnavailable,
  type StartRedisOptions,
  startRedis,
} from './redis/start-redis.js';
