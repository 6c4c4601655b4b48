import { describe, expect, it } from 'vitest';
import type { PgClientLike, PgQueryResult } from './pg-client-like.js';
import { createPgQuery } from './pg-query.js';

/** A client whose statements the test answers by hand, recording the pipeline flag at send. */
function fakeClient(initialPipeline?: boolean) {
  const pending: { resolve: (value: PgQueryResult) => void; reject: (error: unknown) => void }[] =
    [];
  const sentWithPipeline: (boolean | undefined)[] = [];
  const client: PgClientLike & { query: PgClientLike['query'] } = {
    pipeline: initialPipeline,
    connect: async () => undefined,
    end: async () => undefined,
    on: () => undefined,
    query(_text: string, _values?: unknown[]) {
      sentWithPipeline.push(client.pipeline);
      return new Promise<PgQueryResult>((resolve, reject) => pending.push({ resolve, reject }));
    },
  };
  return { client, pending, sentWithPipeline };
}

const result = (): PgQueryResult => ({
  command: 'SELECT',
  rowCount: 1,
  oid: 0,
  fields: [],
  rows: [],
});
const options = { signal: new AbortController().signal };

describe('createPgQuery', () => {
  const query = createPgQuery<PgClientLike>({
    isBroken: (client) => (client as { dead?: boolean }).dead === true,
    brokenError: () => Object.assign(new Error('Connection is closed'), { code: '08003' }),
    scrub: (error) => {
      if (error instanceof Error) error.message = error.message.replace('hunter2', '[redacted]');
      return error;
    },
  });

  it('turns pg pipelining on while its statements are in flight, and off after the last', async () => {
    const { client, pending, sentWithPipeline } = fakeClient();
    const first = query(client, 'SELECT 1', undefined, options);
    const second = query(client, 'SELECT 2', [1], options);
    expect(sentWithPipeline).toEqual([true, true]);
    pending[0]!.resolve(result());
    await first;
    expect(client.pipeline).toBe(true);
    pending[1]!.reject(new Error('password hunter2 rejected'));
    await expect(second).rejects.toThrow('password [redacted] rejected');
    expect(client.pipeline).toBe(false);
  });

  it('leaves a client configured with pipeline: true pipelined', async () => {
    const { client, pending } = fakeClient(true);
    const only = query(client, 'SELECT 1', undefined, options);
    pending[0]!.resolve(result());
    await only;
    expect(client.pipeline).toBe(true);
  });

  it('fails at once on a dead client or an aborted signal, sending nothing', async () => {
    const { client, sentWithPipeline } = fakeClient();
    Object.assign(client, { dead: true });
    await expect(query(client, 'SELECT 1', undefined, options)).rejects.toMatchObject({
      code: '08003',
    });
    const controller = new AbortController();
    controller.abort(new Error('closing'));
    await expect(
      query(fakeClient().client, 'SELECT 1', undefined, { signal: controller.signal }),
    ).rejects.toThrow('closing');
    expect(sentWithPipeline).toEqual([]);
  });

  it('undoes the switch when the client throws instead of returning a promise', async () => {
    const { client } = fakeClient();
    client.query = () => {
      throw new TypeError('Client was passed a null or undefined query');
    };
    await expect(query(client, 'SELECT 1', undefined, options)).rejects.toThrow(TypeError);
    expect(client.pipeline).toBe(false);
  });

  it('holds the writes of one turn and sends them together once the turn is over', async () => {
    const { client, pending } = fakeClient();
    const events: string[] = [];
    let corks = 0;
    const stream = {
      destroyed: false,
      destroy: () => undefined,
      cork: () => {
        corks++;
        events.push('cork');
      },
      uncork: () => {
        corks--;
        events.push('uncork');
      },
    };
    Object.assign(client, { connection: { stream } });
    const send = client.query.bind(client);
    client.query = (text: string, values?: unknown[]) => {
      events.push(`write ${text}`);
      return send(text, values);
    };

    const first = [1, 2, 3].map((n) => query(client, `SELECT ${n}`, undefined, options));
    expect(events).toEqual(['cork', 'write SELECT 1', 'write SELECT 2', 'write SELECT 3']);
    await Promise.resolve();
    // Promise reactions of the same turn still join the batch.
    const joined = query(client, 'SELECT 4', undefined, options);
    expect(corks).toBe(1);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(events.slice(-2)).toEqual(['write SELECT 4', 'uncork']);
    expect(corks).toBe(0);

    // A later turn is a batch of its own.
    const later = query(client, 'SELECT 5', undefined, options);
    expect(events.slice(-2)).toEqual(['cork', 'write SELECT 5']);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(corks).toBe(0);
    for (const entry of pending) entry.resolve(result());
    await Promise.all([...first, joined, later]);
  });

  it('does not cork a destroyed socket, or a client without one', async () => {
    const { client, pending } = fakeClient();
    let corked = false;
    Object.assign(client, {
      connection: {
        stream: { destroyed: true, destroy: () => undefined, cork: () => (corked = true) },
      },
    });
    const onDestroyed = query(client, 'SELECT 1', undefined, options);
    const bare = fakeClient();
    const onBare = query(bare.client, 'SELECT 1', undefined, options);
    expect(corked).toBe(false);
    pending[0]!.resolve(result());
    bare.pending[0]!.resolve(result());
    await Promise.all([onDestroyed, onBare]);
  });
});
