import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { InvalidOptionError } from '@enhanced-pool/core';
import {
  createFakeClock,
  createFaultProxy,
  type FaultProxy,
  type PostgresServer,
  type TerminateBackendsFilter,
} from '@enhanced-pool/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventLog } from './event-log.js';
import { createFaults, FAULT_NAMES, FaultError, SERVER_FAULTS } from './faults.js';

/** The part of a PostgresServer the faults use, recording calls; a restart waits for `release`. */
function serverDouble(kind: PostgresServer['kind'] = 'local', idlePids: number[] = [11, 12, 13]) {
  const calls: string[] = [];
  let release: () => void = () => {};
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
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
  };
  return { server: server as unknown as PostgresServer, calls, release: () => release() };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real proxy in front of a real (silent) TCP server, timed by a fake clock. */
async function setUp(kind: PostgresServer['kind'] = 'local') {
  const target: Server = createServer((socket) => socket.on('error', () => {}));
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const address = target.address() as { port: number };
  cleanups.push(async () => {
    target.close();
  });
  const clock = createFakeClock();
  const proxy: FaultProxy = await createFaultProxy({
    target: { host: '127.0.0.1', port: address.port },
    clock,
  });
  cleanups.push(() => proxy.close());
  const double = serverDouble(kind);
  const events = createEventLog({ now: () => 0 });
  let wallNow = 1_000_000;
  const faults = createFaults({
    proxy,
    server: double.server,
    applicationName: 'svc',
    events,
    idleForMs: 300,
    clock,
    wallClock: () => wallNow,
  });
  cleanups.push(async () => faults.close());
  return {
    ...double,
    proxy,
    clock,
    events,
    faults,
    advanceWall: (ms: number) => {
      wallNow += ms;
    },
  };
}

const lastMessage = (events: ReturnType<typeof createEventLog>) => events.recent().at(-1)?.message;

describe('createFaults', () => {
  it('offers every proxy fault on the embedded database and no server fault', async () => {
    const { faults } = await setUp('embedded');
    const { available } = faults.status();
    for (const name of FAULT_NAMES) {
      if (SERVER_FAULTS.has(name)) {
        expect(available[name]).toMatchObject({ supported: false, available: false });
        expect(available[name].reason).toMatch(/embedded pglite/);
      } else {
        expect(available[name]).toEqual({ supported: true, available: true });
      }
    }
    await expect(faults.inject('restart')).rejects.toMatchObject({ code: 'FAULT_UNAVAILABLE' });
  });

  it('outage refuses for its seconds on the clock, then forwards again, and says so', async () => {
    const { faults, proxy, clock, events } = await setUp();
    const result = await faults.inject('outage', { seconds: 4 });
    expect(result).toEqual({ seconds: 4, endsAt: 1_004_000, cut: 0 });
    expect(faults.status().active).toEqual({ name: 'outage', endsAt: 1_004_000 });
    expect(proxy.status()).toMatchObject({ mode: 'outage', outageRemainingMs: 4_000 });
    expect(lastMessage(events)).toBe('outage: 0 connections cut, new connections refused for 4 s');

    await clock.advanceAsync(4_000);
    expect(proxy.status().mode).toBe('forwarding');
    expect(faults.status().active).toBeUndefined();
    expect(lastMessage(events)).toBe('outage over: connections go through again');
  });

  it('blackhole lasts its seconds and keeps a latency set before it', async () => {
    const { faults, proxy, clock, events } = await setUp();
    await faults.inject('latency', { ms: 50 });
    expect(lastMessage(events)).toBe('latency: every round trip 50 ms slower');
    await faults.inject('blackhole', { seconds: 2 });
    expect(proxy.status()).toMatchObject({ mode: 'blackhole', latencyMs: 50 });
    expect(faults.status().active?.name).toBe('blackhole');

    clock.advance(1_999);
    expect(proxy.status().mode).toBe('blackhole');
    clock.advance(1);
    expect(proxy.status()).toMatchObject({ mode: 'forwarding', latencyMs: 50 });
    expect(lastMessage(events)).toBe('blackhole over: connections are answered again');
  });

  it('an outage replaces a blackhole, and heal ends everything at once', async () => {
    const { faults, proxy, clock } = await setUp();
    await faults.inject('blackhole', { seconds: 30 });
    await faults.inject('outage', { seconds: 30 });
    expect(proxy.status().mode).toBe('outage');
    await faults.inject('latency', { ms: 20 });
    await faults.inject('heal');
    expect(proxy.status()).toMatchObject({ mode: 'forwarding', latencyMs: 0 });
    expect(faults.status().active).toBeUndefined();
    await clock.flush();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('kill cuts the connections open through the proxy', async () => {
    const { faults, proxy, events } = await setUp();
    expect(await faults.inject('kill')).toEqual({ cut: 0 });
    expect(lastMessage(events)).toBe('kill: 0 connections cut at once');
    expect(proxy.status().cut).toBe(0);
  });

  it('rejects bad parameters naming the field and the range', async () => {
    const { faults } = await setUp();
    for (const [fault, parameters, field] of [
      ['outage', {}, 'seconds'],
      ['outage', { seconds: 0 }, 'seconds'],
      ['outage', { seconds: 301 }, 'seconds'],
      ['blackhole', { seconds: 'five' }, 'seconds'],
      ['blackhole', { seconds: 1, existing: 'yes' }, 'existing'],
      ['latency', { ms: -1 }, 'ms'],
      ['latency', {}, 'ms'],
    ] as const) {
      const error = await faults.inject(fault, parameters).catch((caught: unknown) => caught);
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(field);
    }
  });

  it('terminate-idle ends only the pool’s backends idle for idleForMs', async () => {
    const { faults, calls, events } = await setUp();
    await expect(faults.inject('terminate-idle')).resolves.toEqual({ terminated: 3 });
    expect(calls).toEqual(['query svc 300', 'terminate svc idle 11,12,13']);
    expect(lastMessage(events)).toBe(
      'terminate idle: pg_terminate_backend ended 3 backends idle for ≥ 300 ms',
    );
    await expect(faults.inject('terminate-all')).resolves.toEqual({ terminated: 5 });
    expect(calls.at(-1)).toBe('terminate svc undefined all');
  });

  it('runs one server fault at a time and shows the server restarting meanwhile', async () => {
    const { faults, calls, release } = await setUp();
    const restart = faults.inject('restart');
    expect(calls).toEqual(['restart immediate 3000']);
    expect(faults.status()).toMatchObject({ server: 'restarting', busy: 'restart' });
    const second = await faults.inject('terminate-all').catch((error: unknown) => error);
    expect(second).toBeInstanceOf(FaultError);
    expect(second).toMatchObject({ code: 'FAULT_BUSY', fault: 'terminate-all' });
    // Proxy faults are not server faults: they go on while the server restarts.
    await expect(faults.inject('latency', { ms: 0 })).resolves.toEqual({ ms: 0 });
    release();
    await expect(restart).resolves.toMatchObject({ downtimeMs: 3_000 });
    expect(faults.status()).toMatchObject({ server: 'up', busy: undefined });
  });
});
