import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { requireCapability, skipWithReason } from '@enhanced-pool/testing/conformance';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LoadStatus } from './load-generator.js';
import { breakerState, poolFeatures } from './pool-view.js';
import { type Service, startService } from './service.js';

const APPLICATION_NAME = 'example-integration';
const JSON_HEADERS = { 'content-type': 'application/json' };

let service: Service;
let base: string;

async function api(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(base + path, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (the dashboard): keep the text.
  }
  return { status: response.status, body, headers: response.headers };
}

const post = (path: string, body: unknown = {}) =>
  api(path, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });

/**
 * Resolves once the load generator has counted `count` more successes (driven by pool events);
 * rejects, saying how far it got, after `timeoutMs`.
 */
function untilMoreOk(count: number, timeoutMs = 15_000): Promise<LoadStatus> {
  const start = service.app.load.status().ok;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      const { ok, errors } = service.app.load.status();
      reject(
        new Error(
          `${ok - start} of ${count} more successes within ${timeoutMs} ms (${errors} errors so far)`,
        ),
      );
    }, timeoutMs);
    const subscription = service.pool.on('released', () => {
      const status = service.app.load.status();
      if (status.ok >= start + count) {
        clearTimeout(timer);
        subscription.dispose();
        resolve(status);
      }
    });
  });
}

/** Polls the server for a state no event announces, failing with `what` after `timeoutMs`. */
async function pollUntil(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Holds `count` connections at once, so the pool has opened at least that many. */
async function holdConnectionsAtOnce(count: number, timeoutMs = 5_000): Promise<void> {
  let inside = 0;
  let allInside!: () => void;
  const everyoneInside = new Promise<void>((resolve) => {
    allInside = resolve;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${inside} of ${count} connections held after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  // Seen through the holders; this only keeps a rejection with none inside from going unhandled.
  deadline.catch(() => {});
  const holders = Array.from({ length: count }, () =>
    service.pool.withConnection(async () => {
      inside += 1;
      if (inside === count) allInside();
      await Promise.race([everyoneInside, deadline]);
    }),
  );
  try {
    await Promise.all(holders);
  } finally {
    clearTimeout(timer);
  }
}

/** Backends of this service that have sat idle on the server for at least `ms`. */
async function idleBackends(ms: number): Promise<number> {
  const [row] = await service.server.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_stat_activity
      WHERE application_name = $1 AND state = 'idle' AND state_change < now() - make_interval(secs => $2)`,
    [APPLICATION_NAME, ms / 1_000],
  );
  return row?.count ?? 0;
}

beforeAll(async () => {
  service = await startService({
    port: 0,
    applicationName: APPLICATION_NAME,
    // Longer than the pool's outage grace (2 s), so a restart shows both phases: callers held
    // for the probe, then refused at once.
    restartDowntimeMs: 3_000,
    print: () => {},
  });
  base = service.url.replace(/\/$/, '');
});

// A test that fails midway must not leave its workers running into the next one.
afterEach(async () => {
  await service?.app.load.stop();
});

afterAll(async () => {
  await service?.shutdown();
});

describe('the example service on a real PostgreSQL', () => {
  it('listens on the loopback port it was given (0: a free one)', () => {
    expect(service.port).toBeGreaterThan(0);
    expect(service.url).toBe(`http://127.0.0.1:${service.port}/`);
  });

  it('serves a self-contained dashboard: no script, style or font from anywhere else', async () => {
    const { status, body, headers } = await api('/');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/html/);
    expect(headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = body as string;
    expect(html).toContain('<canvas id="chart-pool">');
    expect(html).toContain("new EventSource('/api/events')");
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it('answers /livez 200 and /readyz 200 once the pool is ready', async () => {
    await service.pool.ready();
    expect(await api('/livez')).toMatchObject({ status: 200, body: { live: true } });
    expect(await api('/readyz')).toMatchObject({ status: 200, body: { ready: true, reasons: [] } });
  });

  it('stores an order and lists it back', async () => {
    const created = await post('/api/orders', { customer: 'grace', amountCents: 4_200 });
    expect(created.status).toBe(201);
    const order = created.body as { id: number; customer: string; amountCents: number };
    expect(order).toMatchObject({ customer: 'grace', amountCents: 4_200 });
    expect(Number.isInteger(order.id)).toBe(true);

    const listed = await api('/api/orders?limit=5');
    expect(listed.status).toBe(200);
    expect((listed.body as { orders: unknown[] }).orders[0]).toEqual(created.body);
  });

  it('refuses bad requests with a status and a reason', async () => {
    const badOrder = await post('/api/orders', { customer: 'grace', amountCents: -1 });
    expect(badOrder).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_OPTION', field: 'amountCents' } },
    });
    const notJson = await api('/api/orders', { method: 'POST', body: '{"customer":"x"' });
    expect(notJson.status).toBe(415);
    const brokenJson = await api('/api/orders', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: '{"customer":',
    });
    expect(brokenJson).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON' } } });
    expect((await api('/api/faults/restart')).status).toBe(405);
    expect((await api('/api/nothing')).status).toBe(404);
    expect((await post('/api/load', { workers: 65 })).status).toBe(400);
    expect((await api('/api/orders?limit=0')).status).toBe(400);
  });

  it('refuses a Host that is not loopback (DNS rebinding)', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const outgoing = request(
        {
          host: '127.0.0.1',
          port: service.port,
          path: '/api/stats',
          headers: { host: 'evil.example' },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode);
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
    expect(status).toBe(421);
  });

  it('reports pool, breaker, health, probes, database, faults, load, events and history in /api/stats', async () => {
    // minSize is reached in the background after start; wait for it here rather than rely on
    // the /readyz test having run first.
    await service.pool.ready();
    const { status, body } = await api('/api/stats');
    expect(status).toBe(200);
    const stats = body as Record<string, Record<string, unknown>>;
    expect(Object.keys(stats).sort()).toEqual(
      [
        'at',
        'breaker',
        'database',
        'events',
        'faults',
        'features',
        'health',
        'history',
        'load',
        'pool',
        'probes',
        'uptimeMs',
      ].sort(),
    );
    expect(stats.pool).toMatchObject({ name: 'example', state: 'open', minSize: 2, maxSize: 10 });
    expect(stats.pool!.poolSize).toBeGreaterThanOrEqual(2);
    expect(typeof stats.breaker!.state).toBe('string');
    expect(stats.probes).toMatchObject({ live: true, ready: true });
    expect(stats.database).toEqual({
      kind: service.server.kind,
      address: `${service.server.host}:${service.server.port}`,
      database: service.server.database,
      user: service.server.user,
    });
    expect(stats.load).toMatchObject({ workers: 0, maxWorkers: 64 });
    expect(stats.faults!.server).toBe('up');
    expect(Array.isArray(stats.events)).toBe(true);
    expect(Array.isArray(stats.history)).toBe(true);
    // Secret-free: never a connection string.
    expect(JSON.stringify(body)).not.toContain('postgres://');
  });

  it('runs a health check on demand and shows its report in /api/stats', async (context) => {
    if (!poolFeatures(service.pool).healthCheck) {
      skipWithReason(context, 'this pool build has no runHealthCheck()');
    }
    await service.pool.ready();
    await post('/api/health-check');
    const after = (await api('/api/stats')).body as { health: { lastReport: unknown } };
    expect(after.health.lastReport).toMatchObject({ healthy: true, minSize: 2 });
  });

  it('streams a snapshot, then events as they happen, over Server-Sent Events', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/api/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    /** The next `type` message whose data satisfies `wanted`; fails after `timeoutMs`. */
    const next = async (
      type: string,
      wanted: (data: Record<string, unknown>) => boolean = () => true,
      timeoutMs = 5_000,
    ): Promise<unknown> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = new RegExp(`event: ${type}\\ndata: (.*)\\n\\n`).exec(buffer);
        if (match) {
          buffer = buffer.slice(match.index + match[0].length);
          const data = JSON.parse(match[1]!) as Record<string, unknown>;
          if (wanted(data)) return data;
          continue;
        }
        const left = deadline - Date.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const { value, done } = await Promise.race([
          reader.read(),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no matching "${type}" message within ${timeoutMs} ms`)),
              Math.max(left, 0),
            );
          }),
        ]).finally(() => clearTimeout(timer));
        if (done) throw new Error(`stream ended before a "${type}" message`);
        buffer += value;
      }
    };
    try {
      const snapshot = (await next('snapshot')) as { pool: { name: string } };
      expect(snapshot.pool.name).toBe('example');
      await post('/api/load', { workers: 0 });
      // Pool events (a health check, a resize) may come first; the load event is the one asked for.
      const event = await next('event', (data) => data.type === 'load');
      expect(event).toMatchObject({ type: 'load', message: 'load: 0 workers' });
    } finally {
      controller.abort();
    }
  });

  it('runs 8 workers for 1,000 successes with no errors', async () => {
    const before = service.app.load.status();
    const startedAt = performance.now();
    const started = await post('/api/load', { workers: 8 });
    expect(started.body).toMatchObject({ workers: 8 });
    await untilMoreOk(1_000);
    const elapsedMs = performance.now() - startedAt;
    await post('/api/load', { workers: 0 });
    await service.app.load.stop();
    const status = service.app.load.status();
    console.log(
      `8 workers: ${status.ok - before.ok} ok in ${Math.round(elapsedMs)} ms, ${status.errors - before.errors} errors, p50 ${status.window.p50Ms?.toFixed(2)} ms, p99 ${status.window.p99Ms?.toFixed(2)} ms`,
    );
    expect(status.ok - before.ok).toBeGreaterThanOrEqual(1_000);
    expect(status.errors - before.errors).toBe(0);
    expect(status.running).toBe(0);
  });

  it('kills idle connections under load: callers see no error', async (context) => {
    requireCapability(context, service.server, 'terminateBackends');
    // Fewer workers than the pool has connections, so some sit idle in the pool: those are
    // the ones a firewall or an idle-session killer takes. Holding 8 at once makes sure the
    // pool has them, whatever ran before.
    const workers = 4;
    await holdConnectionsAtOnce(2 * workers);
    const errorsBefore = service.app.load.status().errors;
    await post('/api/load', { workers });
    await untilMoreOk(500);
    // kill-idle takes backends idle for 250 ms or more; wait until there are some.
    await pollUntil(
      'a backend of this service idle on the server for 250 ms',
      async () => (await idleBackends(250)) > 0,
    );

    const killed = await post('/api/faults/kill-idle');
    expect(killed.status).toBe(200);
    const { terminated } = (killed.body as { result: { terminated: number } }).result;
    await untilMoreOk(2_000);
    await post('/api/load', { workers: 0 });
    await service.app.load.stop();

    const status = service.app.load.status();
    const errors = status.errors - errorsBefore;
    console.log(
      `kill-idle under ${workers} workers: ${terminated} idle backends terminated, ${errors} errors to callers`,
    );
    expect(terminated).toBeGreaterThan(0);
    expect(errors).toBe(0);
  });

  it('kills every connection under load: at most one error per killed connection, then service goes on', async (context) => {
    requireCapability(context, service.server, 'terminateBackends');
    const workers = 8;
    const errorsBefore = service.app.load.status().errors;
    await post('/api/load', { workers });
    await untilMoreOk(500);

    const killed = await post('/api/faults/kill-all');
    expect(killed.status).toBe(200);
    const { terminated } = (killed.body as { result: { terminated: number } }).result;
    await untilMoreOk(2_000);
    await post('/api/load', { workers: 0 });
    await service.app.load.stop();

    const status = service.app.load.status();
    const errors = status.errors - errorsBefore;
    console.log(
      `kill-all under ${workers} workers: ${terminated} backends terminated, ${errors} errors to callers ${JSON.stringify(status.errorsByCode)}`,
    );
    expect(terminated).toBeGreaterThanOrEqual(workers);
    // A statement on a connection whose backend died fails, and the pool then discards that
    // connection: each killed connection can fail one caller, never two.
    expect(errors).toBeLessThanOrEqual(terminated);
    expect(status.window.ok).toBeGreaterThan(0);
  });

  it('crashes and restarts the server under load: the breaker opens, callers fail fast after the grace, the pool recovers', async (context) => {
    if (!poolFeatures(service.pool).circuitBreaker) {
      skipWithReason(context, 'this pool build has no connCircuitBreaker yet');
    }
    requireCapability(context, service.server, 'restart');
    const states: string[] = [];
    const breaker = (
      service.pool as unknown as {
        connCircuitBreaker: {
          on(event: 'stateChange', listener: (change: { to: string }) => void): { dispose(): void };
        };
      }
    ).connCircuitBreaker.on('stateChange', ({ to }) => states.push(to));
    const before = service.app.load.status();
    await post('/api/load', { workers: 8 });
    await untilMoreOk(200);

    const crashedAt = performance.now();
    const restarted = await post('/api/faults/restart');
    expect(restarted.status).toBe(200);
    const upAt = performance.now();
    await untilMoreOk(1);
    const recoveredMs = performance.now() - upAt;
    await untilMoreOk(500);
    await post('/api/load', { workers: 0 });
    await service.app.load.stop();
    breaker.dispose();

    const after = service.app.load.status();
    const byCode: Record<string, number> = {};
    for (const [code, total] of Object.entries(after.errorsByCode)) {
      const fresh = total - (before.errorsByCode[code] ?? 0);
      if (fresh > 0) byCode[code] = fresh;
    }
    console.log(
      `restart under 8 workers: down ${Math.round(upAt - crashedAt)} ms, first success ${Math.round(recoveredMs)} ms after the server was back, breaker opened ${states.filter((state) => state === 'open').length}× in ${states.length} transitions ending ${states.at(-1)}, callers' errors ${JSON.stringify(byCode)}`,
    );
    expect(states).toContain('open');
    expect(states.at(-1)).toBe('closed');
    expect(byCode.CIRCUIT_OPEN ?? 0).toBeGreaterThan(0);
    expect(breakerState(service.pool)).toBe('closed');
    expect(await api('/readyz')).toMatchObject({ status: 200 });
  });

  // Last on purpose: it ends the service every test above shares.
  it('shuts down leaving no server connection and no postgres process', async () => {
    const local = service.server.kind === 'local';
    const [row] = local
      ? await service.server.query<{ data_directory: string }>('SHOW data_directory')
      : [];
    const dataDirectory = row?.data_directory;

    const report = await service.shutdown();
    expect(report.connectionsLeft).toBe(0);
    // Only a DATABASE_URL server is left running.
    expect(report.serverStopped).toBe(service.server.kind !== 'external');
    expect(service.pool.getStats().state).toBe('closed');
    await expect(fetch(`${base}/livez`)).rejects.toThrow();

    if (dataDirectory !== undefined) {
      expect(existsSync(dataDirectory)).toBe(false);
      const processes = (() => {
        try {
          return execFileSync('pgrep', ['-f', dataDirectory], { encoding: 'utf8' }).trim();
        } catch {
          return ''; // pgrep exits 1 when nothing matches.
        }
      })();
      expect(processes).toBe('');
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect(service.server.port, service.server.host);
        socket.once('connect', () => {
          socket.destroy();
          resolve(false);
        });
        socket.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    }
  });
});
