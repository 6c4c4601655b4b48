/*
 * The OpenTelemetry database-client connection-pool conventions this exporter emits, copied from
 * `@opentelemetry/semantic-conventions` 1.45 (its incubating entry) rather than imported: that
 * entry is experimental, large, and breaks in minor releases, and a library must not add a
 * runtime dependency for a dozen strings. Instrument kinds and units are the conventions' own
 * (`model/db/metrics.yaml`). In 1.45 `db.client.connection.max` was renamed
 * `db.client.connection.limit`; we emit the new name only.
 */

/** Required on every pool instrument: which pool the figure belongs to. */
export const ATTR_DB_CLIENT_CONNECTION_POOL_NAME = 'db.client.connection.pool.name';
/** Required on `db.client.connection.count`. */
export const ATTR_DB_CLIENT_CONNECTION_STATE = 'db.client.connection.state';
export const DB_CLIENT_CONNECTION_STATE_VALUE_IDLE = 'idle';
export const DB_CLIENT_CONNECTION_STATE_VALUE_USED = 'used';

/** UpDownCounter, `{connection}`: connections in the state `db.client.connection.state` names. */
export const METRIC_DB_CLIENT_CONNECTION_COUNT = 'db.client.connection.count';
/** UpDownCounter, `{connection}`: the most idle open connections allowed. */
export const METRIC_DB_CLIENT_CONNECTION_IDLE_MAX = 'db.client.connection.idle.max';
/** UpDownCounter, `{connection}`: the fewest idle open connections allowed. */
export const METRIC_DB_CLIENT_CONNECTION_IDLE_MIN = 'db.client.connection.idle.min';
/** UpDownCounter, `{connection}`: the most open connections allowed (was `.max` before 1.45). */
export const METRIC_DB_CLIENT_CONNECTION_LIMIT = 'db.client.connection.limit';
/** UpDownCounter, `{request}`: requests waiting for an open connection. */
export const METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS = 'db.client.connection.pending_requests';
/** Counter, `{timeout}`: attempts to obtain a connection that timed out. */
export const METRIC_DB_CLIENT_CONNECTION_TIMEOUTS = 'db.client.connection.timeouts';
/** Histogram, `s`: how long creating a connection took. */
export const METRIC_DB_CLIENT_CONNECTION_CREATE_TIME = 'db.client.connection.create_time';
/** Histogram, `s`: how long obtaining an open connection from the pool took. */
export const METRIC_DB_CLIENT_CONNECTION_WAIT_TIME = 'db.client.connection.wait_time';
/** Histogram, `s`: from borrowing a connection to returning it. */
export const METRIC_DB_CLIENT_CONNECTION_USE_TIME = 'db.client.connection.use_time';
