import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { InvalidOptionError } from '@enhanced-pool/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeClock } from '../fake-clock.js';
import { createFaultProxy, type FaultProxy } from './fault-proxy.js';

/** A real TCP server that echoes what it gets, remembering its sockets. */
interface EchoServer {
  readonly port: number;
  readonly sockets: Set<Socket>;
  /** Resolves with the next socket the server accepts. */
  nextConnection(): Promise<Socket>;
  close(): Promise<void>;
}

async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data) => socket.write(data));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    sockets,
    nextConnection: async () => (await once(server, 'connection'))[0] as Socket,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A client socket that collects what it receives and how it ended. */
interface Client {
  readonly socket: Socket;
  received(): string;
  /** Resolves once `text` has been received in total. */
  until(text: string): Promise<void>;
  /** Resolves with the error code the socket closed with (`undefined`: closed cleanly). */
  closed: Promise<string | undefined>;
}

async function connectClient(port: number): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port });
  let text = '';
  let error: string | undefined;
  const waiters: { text: string; resolve: () => void }[] = [];
  socket.on('data', (data: Buffer) => {
    text += data.toString('utf8');
    for (const waiter of [...waiters]) {
      if (text.includes(waiter.text)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  socket.on('error', (cause: NodeJS.ErrnoException) => {
    error = cause.code;
  });
  const closed = new Promise<string | undefined>((resolve) =>
    socket.on('close', () => resolve(error)),
  );
  // A refused connection may be reset before or after 'connect'; either way it is settled.
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  return {
    socket,
    received: () => text,
    until: (wanted) =>
      text.includes(wanted)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ text: wanted, resolve })),
    closed,
  };
}

/** Lets the event loop turn until `condition` holds (socket I/O has no event to await here). */
async function eventually(condition: () => boolean, turns = 10_000): Promise<void> {
  for (let turn = 0; turn < turns; turn += 1) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not met');
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: { latencyMs?: number; fakeClock?: boolean } = {}) {
  const echo = await startEchoServer();
  cleanups.push(() => echo.close());
  const clock = createFakeClock();
  const proxy: FaultProxy = await createFaultProxy({
    target: { host: '127.0.0.1', port: echo.port },
    ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    ...(options.fakeClock ? { clock } : {}),
  });
  cleanups.push(() => proxy.close());
  const client = async (): Promise<Client> => {
    const opened = await connectClient(proxy.port);
    cleanups.push(async () => {
      opened.socket.destroy();
    });
    return opened;
  };
  return { echo, proxy, clock, client };
}

describe('createFaultProxy', () => {
  it('forwards bytes both ways and reports what it carries', async () => {
    const { proxy, client, echo } = await setUp();
    const first = await client();
    first.socket.write('hello');
    await first.until('hello');
    expect(echo.sockets.size).toBe(1);
    expect(proxy.status()).toMatchObject({
      mode: 'forwarding',
      latencyMs: 0,
      open: 1,
      held: 0,
      accepted: 1,
      refused: 0,
      cut: 0,
      outageRemainingMs: undefined,
    });
  });

  it('rewrites a connection string to its own address and keeps the rest', async () => {
    const { proxy } = await setUp();
    const rewritten = proxy.connectionString(
      'postgres://app:s3cret@db.internal:6543/orders?sslmode=disable&application_name=x',
    );
    expect(rewritten).toBe(
      `postgres://app:s3cret@127.0.0.1:${proxy.port}/orders?sslmode=disable&application_name=x`,
    );
  });

  it('takes its target from a connection string', async () => {
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const proxy = await createFaultProxy({ target: `postgres://u:p@127.0.0.1:${echo.port}/db` });
    cleanups.push(() => proxy.close());
    expect(proxy.target).toEqual({ host: '127.0.0.1', port: echo.port });
    const opened = await connectClient(proxy.port);
    opened.socket.write('via url');
    await opened.until('via url');
    opened.socket.destroy();
  });

  it('passes a close on in both directions', async () => {
    const { client, echo } = await setUp();
    const first = await client();
    const upstream = echo.nextConnection();
    first.socket.write('x');
    const serverSide = await upstream;
    await first.until('x');
    const serverClosed = once(serverSide, 'close');
    first.socket.end();
    await serverClosed;
    expect(await first.closed).toBeUndefined();

    const second = await client();
    const nextUpstream = echo.nextConnection();
    second.socket.write('y');
    await second.until('y');
    (await nextUpstream).end();
    expect(await second.closed).toBeUndefined();
  });

  it('refuse() resets new connections and leaves open ones working; heal() accepts again', async () => {
    const { proxy, client } = await setUp();
    const open = await client();
    proxy.refuse();
    const refused = await connectClient(proxy.port);
    expect(await refused.closed).toBe('ECONNRESET');
    open.socket.write('still here');
    await open.until('still here');
    expect(proxy.status()).toMatchObject({ mode: 'refusing', refused: 1, open: 1 });

    proxy.heal();
    const later = await client();
    later.socket.write('back');
    await later.until('back');
  });

  it('cut() resets every open connection on both sides and counts them', async () => {
    const { proxy, client, echo } = await setUp();
    const first = await client();
    const second = await client();
    first.socket.write('1');
    second.socket.write('2');
    await Promise.all([first.until('1'), second.until('2')]);
    expect(echo.sockets.size).toBe(2);

    expect(proxy.cut()).toBe(2);
    expect(await first.closed).toBe('ECONNRESET');
    expect(await second.closed).toBe('ECONNRESET');
    await eventually(() => echo.sockets.size === 0 && proxy.status().open === 0);
    expect(proxy.status()).toMatchObject({ mode: 'forwarding', cut: 2, open: 0 });

    const after = await client();
    after.socket.write('new');
    await after.until('new');
  });

  it('outage() cuts, refuses for its duration on the clock, then forwards again', async () => {
    const { proxy, client, clock } = await setUp({ fakeClock: true });
    const open = await client();
    open.socket.write('before');
    await open.until('before');

    let ended = false;
    const outage = proxy.outage({ durationMs: 3_000 }).then(() => {
      ended = true;
    });
    expect(await open.closed).toBe('ECONNRESET');
    expect(proxy.status()).toMatchObject({ mode: 'outage', outageRemainingMs: 3_000, cut: 1 });

    clock.advance(2_999);
    const during = await connectClient(proxy.port);
    expect(await during.closed).toBe('ECONNRESET');
    expect(proxy.status()).toMatchObject({ outageRemainingMs: 1, refused: 1 });
    expect(ended).toBe(false);

    clock.advance(1);
    await outage;
    expect(proxy.status()).toMatchObject({ mode: 'forwarding', outageRemainingMs: undefined });
    const after = await client();
    after.socket.write('after');
    await after.until('after');
  });

  it('an outage ends early on heal(), and a second outage replaces the first', async () => {
    const { proxy, clock } = await setUp({ fakeClock: true });
    const first = proxy.outage({ durationMs: 10_000 });
    const second = proxy.outage({ durationMs: 1_000 });
    await first;
    expect(proxy.status()).toMatchObject({ mode: 'outage', outageRemainingMs: 1_000 });
    proxy.heal();
    await second;
    expect(proxy.status().mode).toBe('forwarding');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('blackhole() holds new connections unanswered, then lets them through on heal()', async () => {
    const { proxy, client, echo } = await setUp();
    proxy.blackhole();
    const held = await client();
    held.socket.write('waiting');
    await eventually(() => proxy.status().held === 1);
    // Let the bytes sit: nothing reaches the server, nothing comes back.
    for (let turn = 0; turn < 50; turn += 1) await new Promise((r) => setImmediate(r));
    expect(echo.sockets.size).toBe(0);
    expect(held.received()).toBe('');
    expect(proxy.status()).toMatchObject({ mode: 'blackhole', open: 1, held: 1, accepted: 1 });

    proxy.heal();
    await held.until('waiting');
    expect(proxy.status()).toMatchObject({ mode: 'forwarding', held: 0 });
  });

  it('blackhole({ existing: true }) also silences open connections until heal()', async () => {
    const { proxy, client } = await setUp();
    const open = await client();
    open.socket.write('a');
    await open.until('a');
    proxy.blackhole({ existing: true });
    open.socket.write('b');
    for (let turn = 0; turn < 50; turn += 1) await new Promise((r) => setImmediate(r));
    expect(open.received()).toBe('a');
    proxy.heal();
    await open.until('ab');
  });

  it('a client that gives up on a held connection is forgotten', async () => {
    const { proxy, client } = await setUp();
    proxy.blackhole();
    const held = await client();
    await eventually(() => proxy.status().held === 1);
    held.socket.destroy();
    await eventually(() => proxy.status().open === 0);
  });

  it('setLatency() delays what the server sends by exactly that much on the clock, in order', async () => {
    const { proxy, client, clock } = await setUp({ fakeClock: true, latencyMs: 100 });
    const open = await client();
    open.socket.write('one');
    await eventually(() => clock.pendingTimers() === 1);
    clock.advance(40);
    proxy.setLatency(10);
    open.socket.write('two');
    // 'two' arrives later but is due earlier: it waits for 'one'.
    for (let turn = 0; turn < 50; turn += 1) await new Promise((r) => setImmediate(r));
    clock.advance(59);
    for (let turn = 0; turn < 50; turn += 1) await new Promise((r) => setImmediate(r));
    expect(open.received()).toBe('');
    clock.advance(1);
    await open.until('onetwo');
    expect(proxy.status().latencyMs).toBe(10);

    proxy.setLatency(0);
    open.socket.write('three');
    await open.until('three');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('close() resets open connections, stops listening and is idempotent', async () => {
    const { proxy, client } = await setUp();
    const open = await client();
    open.socket.write('x');
    await open.until('x');
    await Promise.all([proxy.close(), proxy.close()]);
    expect(await open.closed).toBe('ECONNRESET');
    const refused = connect({ host: '127.0.0.1', port: proxy.port });
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('rejects bad options with the option, the value and the range', async () => {
    const bad = async (options: unknown): Promise<InvalidOptionError> => {
      try {
        await createFaultProxy(options as Parameters<typeof createFaultProxy>[0]);
      } catch (error) {
        if (InvalidOptionError.isInstance(error)) return error;
        throw error;
      }
      throw new Error('no error');
    };
    expect((await bad({})).option).toBe('target');
    expect((await bad({ target: { host: '', port: 1 } })).option).toBe('target.host');
    expect((await bad({ target: { host: 'x', port: 0 } })).option).toBe('target.port');
    expect((await bad({ target: { host: 'x', port: 70_000 } })).option).toBe('target.port');
    expect((await bad({ target: { host: 'x', port: 1 }, port: -1 })).option).toBe('port');
    expect((await bad({ target: { host: 'x', port: 1 }, latencyMs: -5 })).option).toBe('latencyMs');
    const url = await bad({ target: 'not a url with s3cret' });
    expect(url.option).toBe('target');
    expect(url.message).not.toContain('s3cret');

    const { proxy } = await setUp();
    expect(() => proxy.setLatency(120_000)).toThrow(InvalidOptionError);
    expect(() => proxy.setLatency(Number.NaN)).toThrow(/latencyMs/);
    await expect(proxy.outage({ durationMs: -1 })).rejects.toThrow(/durationMs/);
    expect(() => proxy.blackhole({ existing: 'yes' as unknown as boolean })).toThrow(/existing/);
    expect(() => proxy.connectionString('::nope::')).toThrow(/connectionString/);
  });
});
