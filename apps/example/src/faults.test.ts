import type { PostgresServer, TerminateBackendsFilter } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createEventLog } from './event-log.js';
import { createFaults, FaultError } from './faults.js';

/** The part of a PostgresServer the faults use, recording calls; operations wait for `release`. */
function serverDouble(kind: PostgresServer['kind'] = 'local', idlePids: number[] = [11, 12, 13]) {
  const calls: string[] = [];
  let release: () => void = () => {};
  const pending = (): Promise<void> =>
    new Promise((resolve) => {
      release = resolve;
    });
  const local = kind === 'local';
  const server = {
    kind,
    capabilities: {
      restart: local,
      terminateBackends: kind !== 'embedded',
      concurrentBackends: kind !== 'embedded',
      passwordAuth: local,
    },
    query: async (sql: string, params: unknown[]) => {
      calls.push(`query ${params.join(' ')}`);
      expect(sql).toMatch(/state = 'idle'/);
      return idlePids.map((pid) => ({ pid }));
    },
    terminateBackends: async (filter: TerminateBackendsFilter) => {
      calls.push(`terminate ${filter.applicationName} ${filter.state} ${filter.pids ?? 'all'}`);
      return filter.pids?.length ?? 5;
    },
    restart: (options: { mode?: string; downtimeMs?: number }) => {
      calls.push(`restart ${options.mode} ${options.downtimeMs}`);
      return pending();
    },
    kill: () => {
      calls.push('kill');
      return pending();
    },
    start: () => {
      calls.push('start');
      return pending();
    },
  };
  return { server: server as unknown as PostgresServer, calls, release: () => release() };
}

describe('createFaults', () => {
  it('kill-idle terminates only backends of the pool’s application_name idle for idleForMs', async () => {
    const { server, calls } = serverDouble();
    const events = createEventLog();
    const faults = createFaults({ server, applicationName: 'svc', events, idleForMs: 300 });

    await expect(faults.killIdle()).resolves.toEqual({ terminated: 3 });
    expect(calls).toEqual(['query svc 300', 'terminate svc idle 11,12,13']);
    expect(events.recent().at(-1)!.message).toBe(
      'kill idle: terminated 3 backends of "svc" idle for ≥ 300 ms',
    );
  });

  it('kill-idle with nothing idle long enough terminates nothing', async () => {
    const { server, calls } = serverDouble('local', []);
    const faults = createFaults({ server, applicationName: 'svc', events: createEventLog() });
    await expect(faults.inject('kill-idle')).resolves.toEqual({ terminated: 0 });
    expect(calls).toEqual(['query svc 250']);
  });

  it('kill-all terminates every backend of the pool, busy ones included', async () => {
    const { server, calls } = serverDouble();
    const faults = createFaults({ server, applicationName: 'svc', events: createEventLog() });
    await expect(faults.inject('kill-all')).resolves.toEqual({ terminated: 5 });
    expect(calls).toEqual(['terminate svc undefined all']);
  });

  it('runs one fault at a time and tracks the server through restart', async () => {
    const { server, calls, release } = serverDouble();
    const faults = createFaults({
      server,
      applicationName: 'svc',
      events: createEventLog(),
      restartDowntimeMs: 1_234,
    });

    const restarting = faults.restart();
    expect(faults.status()).toMatchObject({ server: 'restarting', busy: 'restart' });
    expect(faults.status().available.stop).toEqual({
      available: false,
      reason: 'restart in progress',
    });
    await expect(faults.stop()).rejects.toMatchObject({ code: 'FAULT_BUSY', fault: 'stop' });

    release();
    await expect(restarting).resolves.toMatchObject({ downtimeMs: 1_234 });
    expect(calls).toEqual(['restart immediate 1234']);
    expect(faults.status()).toMatchObject({ server: 'up', busy: undefined });
  });

  it('offers start only while the server is down, and stop only while it is up', async () => {
    const { server, release } = serverDouble();
    const faults = createFaults({ server, applicationName: 'svc', events: createEventLog() });
    expect(faults.status().available.start).toEqual({
      available: false,
      reason: 'the server is already up',
    });

    const stopping = faults.inject('stop');
    release();
    await stopping;
    expect(faults.status().server).toBe('down');
    expect(faults.status().available.start.available).toBe(true);
    expect(faults.status().available.restart).toEqual({
      available: false,
      reason: 'the server is down',
    });
    await expect(faults.killIdle()).rejects.toBeInstanceOf(FaultError);

    const starting = faults.inject('start');
    release();
    await starting;
    expect(faults.status().server).toBe('up');
  });

  it('disables what a DATABASE_URL server cannot do, with the reason', async () => {
    const { server, calls } = serverDouble('external');
    const faults = createFaults({ server, applicationName: 'svc', events: createEventLog() });
    const { available } = faults.status();

    expect(available['kill-idle']).toEqual({ available: true });
    expect(available['kill-all']).toEqual({ available: true });
    for (const fault of ['restart', 'stop', 'start'] as const) {
      expect(available[fault].available).toBe(false);
      expect(available[fault].reason).toMatch(/DATABASE_URL/);
    }
    await expect(faults.restart()).rejects.toMatchObject({ code: 'FAULT_UNAVAILABLE' });
    expect(calls).toEqual([]);
  });

  it('reports a fault the server failed as FAULT_FAILED and the server as unknown', async () => {
    const { server } = serverDouble();
    (server as { kill: () => Promise<void> }).kill = () => Promise.reject(new Error('pg_ctl died'));
    const events = createEventLog();
    const faults = createFaults({ server, applicationName: 'svc', events });

    await expect(faults.stop()).rejects.toMatchObject({ code: 'FAULT_FAILED' });
    expect(faults.status().server).toBe('unknown');
    // From an unknown state, start (a no-op on a running server) is how to recover.
    expect(faults.status().available.start.available).toBe(true);
    expect(events.recent().at(-1)).toMatchObject({ level: 'error', type: 'fault' });
  });
});
