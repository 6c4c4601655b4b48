import pg from 'pg';

/**
 * One connection straight to the server (not through the proxy), for counting the pool's
 * backends and checking the table. It reconnects after a restart; its own backend is named
 * `applicationName` so it is never counted as the pool's.
 */
export class AdminConnection {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly connectionString: string;
  private readonly applicationName: string;

  constructor(connectionString: string, applicationName: string) {
    this.connectionString = connectionString;
    this.applicationName = applicationName;
  }

  /** Runs a statement; after a connection failure, reconnects and tries again up to `attempts` times. */
  async query<TRow extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    attempts = 20,
  ): Promise<TRow[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await this.connect();
        const result = await client.query<TRow>(sql, params);
        return result.rows;
      } catch (error) {
        this.drop();
        if (attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Backends in `pg_stat_activity` with this `application_name`. */
  async count(applicationName: string): Promise<number> {
    const [row] = await this.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return row?.count ?? 0;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await client.end().catch(() => {});
  }

  private connect(): Promise<pg.Client> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.connectionString,
        application_name: this.applicationName,
      });
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
      });
      try {
        await client.connect();
      } catch (error) {
        client.end().catch(() => {});
        throw error;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private drop(): void {
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
  }
}
