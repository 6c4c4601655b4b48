import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryPoint } from './app.js';
import type { LoadStatus } from './load-generator.js';
import { SEED_ROWS } from './molecules.js';
import { parsePrometheusText } from './prometheus-text.js';
import { type Service, startService } from './service.js';

// The service as `pnpm start` runs it on a machine with nothing installed: embedded pglite,
// behind the fault proxy. Every fault here goes through the proxy.

const JSON_HEADERS = { 'content-type': 'application/json' };

let service: Service;
let base: string;

async function api(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; headers: Headers; text: string }> {
  const response = await fetch(base + path, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (the dashboard, the metrics): keep the text.
  }
  return { status: response.status, body, headers: response.headers, text };
}

const post = (path: string, body: unknown = {}) =>
  api(path, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });

/** Resolves once the load generator has counted `count` more successes (driven by pool events). */
function untilMoreOk(count: number, timeoutMs = 20_000): Promise<LoadStatus> {
  const start = service.app.load.status().ok;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      const { ok, errors } = service.app.load.status();
      reject(
        new Error(`${ok - start} of ${count} more successes in ${timeoutMs} ms (${errors} errors)`),
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

/**
 * Polls an endpoint (HTTP announces nothing) until `done` holds, calling `each` on every answer;
 * fails naming `what` after `timeoutMs`.
 */
async function pollUntil(
  what: string,
  done: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  service = await startService({
    port: 0,
    database: 'embedded',
    applicationName: 'example-integration',
    snapshotIntervalMs: 250,
    print: () => {},
  });
  base = service.url.replace(/\/$/, '');
});

afterEach(async () => {
  // A test that fails midway must not leave its workers or its fault running into the next.
  await service?.app.load.stop();
  await service?.app.faults.inject('heal');
});

afterAll(async () => {
  await service?.shutdown();
});

describe('the example service on embedded pglite, through the fault proxy', () => {
  it('runs on embedded pglite, its pool connecting through the proxy', () => {
    expect(service.server.kind).toBe('embedded');
    expect(service.url).toBe(`http://127.0.0.1:${service.port}/`);
    expect(service.proxy.status().open).toBe(service.pool.getStats().poolSize);
  });

  it('serves the dashboard with uPlot from its own dependency, nothing from elsewhere', async () => {
    const page = await api('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.text).toContain('<script src="/assets/uPlot.iife.min.js"></script>');
    expect(page.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);

    const script = await api('/assets/uPlot.iife.min.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.text).toContain('uPlot');
    const style = await api('/assets/uPlot.min.css');
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers /livez, /healthz and /readyz', async () => {
    expect(await api('/livez')).toMatchObject({ status: 200, body: { live: true } });
    expect(await api('/healthz')).toMatchObject({ status: 200, body: { live: true } });
    expect(await api('/readyz')).toMatchObject({ status: 200, body: { ready: true, reasons: [] } });
  });

  it('lists molecules with SELECT * FROM molecules LIMIT n', async () => {
    const { status, body } = await api('/molecules?limit=5');
    expect(status).toBe(200);
    const { molecules } = body as { molecules: Record<string, unknown>[] };
    expect(molecules).toHaveLength(5);
    for (const molecule of molecules) {
      expect(Object.keys(molecule).sort()).toEqual(
        ['formula', 'id', 'molecularWeight', 'name', 'smiles'].sort(),
      );
      expect(molecule.formula).toMatch(/^([A-Z][a-z]?\d*)+$/);
      expect(typeof molecule.molecularWeight).toBe('number');
    }
    expect(((await api('/molecules')).body as { molecules: unknown[] }).molecules).toHaveLength(10);
    const [row] = await service.server.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM molecules',
    );
    expect(row?.count).toBeGreaterThanOrEqual(SEED_ROWS);
  });

  it('imports molecules in one transaction, all or none', async () => {
    const molecule = { name: 'test-ium', formula: 'C2H6O', smiles: 'CCO', molecularWeight: 46.069 };
    const created = await post('/molecules', { molecules: [molecule] });
    expect(created.status).toBe(201);
    expect((created.body as { molecules: unknown[] }).molecules[0]).toMatchObject(molecule);

    const refused = await post('/molecules', { molecules: [molecule, { ...molecule, name: '' }] });
    expect(refused).toMatchObject({ status: 400, body: { error: { field: 'molecules[1].name' } } });
  });

  it('refuses bad requests with a status and a reason', async () => {
    expect(await api('/molecules?limit=0')).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_OPTION', field: 'limit' } },
    });
    expect((await api('/nowhere')).status).toBe(404);
    expect((await api('/metrics', { method: 'POST' })).status).toBe(405);
    expect((await api('/api/load', { method: 'POST', body: '{"workers":1}' })).status).toBe(415);
    expect((await post('/api/faults/outage', { seconds: 0 })).body).toMatchObject({
      error: { field: 'seconds' },
    });
    expect((await post('/api/faults/latency', { ms: 'slow' })).body).toMatchObject({
      error: { field: 'ms' },
    });
    const unsupported = await post('/api/faults/restart');
    expect(unsupported.status).toBe(409);
    expect(unsupported.body).toMatchObject({ error: { code: 'FAULT_UNAVAILABLE' } });
    expect(JSON.stringify(unsupported.body)).toMatch(/embedded pglite/);
  });

  it('serves the pool and breaker metrics as Prometheus text', async () => {
    const { status, headers, text } = await api('/metrics');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(text);
    expect(families.get('enhanced_pool_connections')?.type).toBe('gauge');
    expect(families.get('enhanced_pool_acquire_wait_seconds')?.type).toBe('histogram');
    const breakerStates = families.get('enhanced_pool_breaker_state')?.samples ?? [];
    expect(breakerStates.find((sample) => sample.labels.state === 'closed')?.value).toBe(1);
    expect([...families.keys()].some((name) => name.startsWith('enhanced_breaker_'))).toBe(true);
    const idle = families
      .get('enhanced_pool_connections')
      ?.samples.find((sample) => sample.labels.state === 'idle');
    expect(idle?.labels.pool).toBe('example');
  });

  it('reports the figures the dashboard draws in /api/stats, secret-free', async () => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    const { status, body, text } = await api('/api/stats');
    expect(status).toBe(200);
    const stats = body as Record<string, unknown> & {
      history: HistoryPoint[];
      faults: { available: Record<string, { supported: boolean }>; proxy: { mode: string } };
      database: Record<string, unknown>;
      sizing: { targetUtilization: number };
    };
    for (const key of ['pool', 'breaker', 'health', 'probes', 'faults', 'load', 'events']) {
      expect(stats).toHaveProperty(key);
    }
    expect(stats.database).toEqual({
      kind: 'embedded',
      address: `${service.server.host}:${service.server.port}`,
      database: 'postgres',
      user: 'postgres',
    });
    expect(stats.sizing.targetUtilization).toBe(0.7);
    expect(stats.faults.proxy.mode).toBe('forwarding');
    for (const fault of ['outage', 'kill', 'blackhole', 'latency', 'heal']) {
      expect(stats.faults.available[fault]).toMatchObject({ supported: true, available: true });
    }
    expect(stats.history.length).toBeGreaterThan(0);
    const point = stats.history.at(-1) as HistoryPoint;
    expect(Object.keys(point).sort()).toEqual(
      [
        't',
        'size',
        'active',
        'idle',
        'pending',
        'target',
        'utilization',
        'waitP50Ms',
        'waitP99Ms',
        'ok',
        'errors',
        'breaker',
        'health',
      ].sort(),
    );
    expect(text).not.toContain('postgres://');
  });

  it('streams a snapshot with the latest sample over Server-Sent Events', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/api/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!/event: snapshot\ndata: .*"point":\{/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toMatch(/"point":\{"t":\d+/);
  });

  it('runs reads and imports under load with no errors', async () => {
    const [before] = await service.server.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM molecules',
    );
    expect((await post('/api/load', { workers: 4 })).status).toBe(200);
    const status = await untilMoreOk(300);
    expect(status.errors).toBe(0);
    const [after] = await service.server.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM molecules',
    );
    // About one operation in ten is an import of three molecules.
    expect(after?.count).toBeGreaterThan(before?.count ?? 0);
  });

  it('outage: /readyz answers 503 while it lasts and 200 after, /livez 200 throughout', async () => {
    await post('/api/load', { workers: 4 });
    await untilMoreOk(20);
    const errorsBefore = service.app.load.status().errors;
    const outage = await post('/api/faults/outage', { seconds: 3 });
    expect(outage.status).toBe(200);
    expect(outage.body).toMatchObject({ fault: 'outage', result: { seconds: 3 } });
    expect((outage.body as { result: { cut: number } }).result.cut).toBeGreaterThan(0);

    const live: number[] = [];
    const ready: number[] = [];
    const notReady: unknown[] = [];
    const probe = async (): Promise<number> => {
      live.push((await api('/livez')).status);
      const { status, body } = await api('/readyz');
      ready.push(status);
      if (status === 503) notReady.push(body);
      return status;
    };
    await pollUntil('/readyz 503 during the outage', async () => (await probe()) === 503, 3_000);
    expect(notReady[0]).toEqual({ ready: false, reasons: ['connection breaker is open'] });
    // Half-open counts as ready, so the outage's probes may read 200 now and then; after it,
    // the next probe succeeds and the breaker closes.
    await pollUntil('the outage ends', async () => {
      await probe();
      return service.proxy.status().mode === 'forwarding';
    });
    await pollUntil(
      '/readyz 200 with the breaker closed after the outage',
      async () => (await probe()) === 200 && service.pool.getStats().breakerState === 'closed',
    );
    expect(live.every((status) => status === 200)).toBe(true);
    expect(ready).toContain(503);

    const errors = service.app.load.status().errorsByCode;
    expect(service.app.load.status().errors).toBeGreaterThan(errorsBefore);
    expect(errors.CIRCUIT_OPEN ?? 0).toBeGreaterThan(0);
    // And the callers are served again.
    await untilMoreOk(50);
  });

  it('kill: every connection cut at once, the pool opens new ones', async () => {
    await post('/api/load', { workers: 4 });
    await untilMoreOk(20);
    const created = service.pool.getStats().created;
    const kill = await post('/api/faults/kill');
    expect(kill.status).toBe(200);
    expect((kill.body as { result: { cut: number } }).result.cut).toBeGreaterThan(0);
    await untilMoreOk(100);
    expect(service.pool.getStats().created).toBeGreaterThan(created);
  });

  it('blackhole and latency: connects hang, round trips slow down, and heal ends both', async () => {
    const blackhole = await post('/api/faults/blackhole', { seconds: 1 });
    expect(blackhole).toMatchObject({
      status: 200,
      body: { result: { seconds: 1, existing: true } },
    });
    expect(service.proxy.status().mode).toBe('blackhole');
    await pollUntil('the blackhole ends', async () => service.proxy.status().mode === 'forwarding');

    expect((await post('/api/faults/latency', { ms: 150 })).status).toBe(200);
    const started = performance.now();
    expect((await api('/molecules?limit=1')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect((await post('/api/faults/heal')).status).toBe(200);
    expect(service.proxy.status()).toMatchObject({ mode: 'forwarding', latencyMs: 0 });
  });

  // Last on purpose: it ends the service every test above shares.
  it('shuts down leaving no connection on the database and nothing listening', async () => {
    const report = await service.shutdown();
    expect(report).toEqual({ connectionsLeft: 0, serverStopped: true });
    expect(service.pool.getStats().state).toBe('closed');
    await expect(fetch(`${base}/livez`)).rejects.toThrow();
    for (const port of [service.server.port, service.proxy.port]) {
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
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
