import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startService } from './service.js';

// The faults only a real server can do (pg_terminate_backend, a crash and restart), on a
// throwaway local PostgreSQL. Without server binaries they are skipped, with this reason.

function hasServerBinaries(): boolean {
  const fromEnvironment = process.env.PG_BINDIR;
  if (fromEnvironment !== undefined) return existsSync(`${fromEnvironment}/pg_ctl`);
  const root = '/usr/lib/postgresql';
  return (
    existsSync(root) &&
    readdirSync(root).some((version) => existsSync(`${root}/${version}/bin/pg_ctl`))
  );
}

const missing = hasServerBinaries()
  ? undefined
  : 'no PostgreSQL server binaries (PG_BINDIR or /usr/lib/postgresql/*/bin)';
if (missing !== undefined) {
  console.warn(`[@enhanced-pool/example] skipped the real-server faults: ${missing}`);
}

const post = async (base: string, path: string, body: unknown = {}) => {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe.skipIf(missing !== undefined)('real-server faults on a local PostgreSQL', () => {
  let service: Service;
  let base: string;

  beforeAll(async () => {
    service = await startService({
      port: 0,
      database: 'local',
      applicationName: 'example-server-faults',
      restartDowntimeMs: 1_000,
      print: () => {},
    });
    base = service.url.replace(/\/$/, '');
  });

  afterAll(async () => {
    await service?.shutdown();
  });

  /** Resolves once the load has `count` more successes (pool events drive it). */
  const moreOk = (count: number, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const start = service.app.load.status().ok;
      const timer = setTimeout(() => {
        subscription.dispose();
        reject(new Error(`fewer than ${count} more successes in ${timeoutMs} ms`));
      }, timeoutMs);
      const subscription = service.pool.on('released', () => {
        if (service.app.load.status().ok >= start + count) {
          clearTimeout(timer);
          subscription.dispose();
          resolve();
        }
      });
    });

  it('offers every fault, the server ones included', async () => {
    const stats = (await (await fetch(`${base}/api/stats`)).json()) as {
      faults: { available: Record<string, { supported: boolean; available: boolean }> };
    };
    for (const available of Object.values(stats.faults.available)) {
      expect(available).toMatchObject({ supported: true, available: true });
    }
  });

  it('terminate-all ends the pool’s backends with pg_terminate_backend; the pool reopens', async () => {
    await post(base, '/api/load', { workers: 4 });
    await moreOk(50);
    const { status, body } = await post(base, '/api/faults/terminate-all');
    expect(status).toBe(200);
    expect((body.result as { terminated: number }).terminated).toBeGreaterThanOrEqual(2);
    await moreOk(100);
  });

  it('restart crashes the server; the breaker opens and closes, /readyz is 200 again', async () => {
    const states: string[] = [];
    const subscription = service.pool.connCircuitBreaker?.on('stateChange', ({ to }) => {
      states.push(to);
    });
    const { status, body } = await post(base, '/api/faults/restart');
    expect(status).toBe(200);
    expect(body.result).toMatchObject({ downtimeMs: 1_000 });
    await moreOk(100);
    subscription?.dispose();
    await service.app.load.stop();
    expect(service.pool.getStats().breakerState).toBe('closed');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(states).toContain('open');
    expect(states.at(-1)).toBe('closed');
    const opened = states.filter((state) => state === 'open').length;
    console.log(`restart under 4 workers, 1 s down: the breaker opened ${opened}× and closed`);
  });
});
