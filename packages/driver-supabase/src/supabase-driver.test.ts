import { createFakeClock } from '@enhanced-pool/testing';
import type { SupabaseClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import { createSupabaseDriver } from './supabase-driver.js';

const URL_ = 'https://abcdefghijklmnopqrst.supabase.co';
const KEY = 'unit-test-key-6b1f0e';
const signal = () => new AbortController().signal;

interface Sent {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly signal: AbortSignal | undefined;
}

/** A fetch that answers every request with `status` and records what it was sent. */
function recordingFetch(status = 200, body = '') {
  const sent: Sent[] = [];
  const fetchImpl = async (
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> => {
    sent.push({
      method: init?.method ?? 'GET',
      url: String(input),
      headers: new Headers(init?.headers),
      signal: init?.signal ?? undefined,
    });
    return new Response(init?.method === 'HEAD' ? null : body, {
      status,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { sent, fetch: fetchImpl as typeof fetch };
}

/** A fetch that never answers, until its signal aborts. */
function hangingFetch() {
  const sent: Sent[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    new Promise((_resolve, reject) => {
      sent.push({
        method: init?.method ?? 'GET',
        url: String(input),
        headers: new Headers(init?.headers),
        signal: init?.signal ?? undefined,
      });
      init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
    });
  return { sent, fetch: fetchImpl as typeof fetch };
}

describe('createSupabaseDriver (no network)', () => {
  it("sends its requests through the user's fetch, with the key and without its own probe header", async () => {
    const { sent, fetch } = recordingFetch(200, '{"data":{}}');
    const driver = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      clientOptions: { global: { fetch } },
    });
    await driver.connect({ signal: signal() });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.method).toBe('POST');
    expect(sent[0]!.url).toBe(`${URL_}/rest/v1/rpc/graphql`);
    expect(sent[0]!.headers.get('apikey')).toBe(KEY);
    expect(sent[0]!.headers.get('content-profile')).toBe('graphql_public');
    expect([...sent[0]!.headers.keys()].some((name) => name.startsWith('x-enhanced-pool'))).toBe(
      false,
    );
  });

  it('keeps the realtime transport and auth settings the user gave', async () => {
    const { fetch } = recordingFetch();
    class CustomTransport {}
    const driver = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      healthCheck: { table: 'todos' },
      clientOptions: {
        global: { fetch },
        realtime: { transport: CustomTransport },
        auth: { storageKey: 'custom-key', autoRefreshToken: true },
      },
    });
    const client = await driver.connect({ signal: signal() });
    expect(client.realtime.transport).toBe(CustomTransport);
    const auth = client.auth as unknown as { storageKey: string; autoRefreshToken: boolean };
    expect(auth.storageKey).toBe('custom-key');
    expect(auth.autoRefreshToken).toBe(true);
    await driver.close(client);
  });

  it('defaults to no session persistence or refresh timers for a server-side pool', async () => {
    const { fetch } = recordingFetch();
    const driver = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      healthCheck: { table: 'todos' },
      clientOptions: { global: { fetch } },
    });
    const client = await driver.connect({ signal: signal() });
    const auth = client.auth as unknown as { persistSession: boolean; autoRefreshToken: boolean };
    expect(auth.persistSession).toBe(false);
    expect(auth.autoRefreshToken).toBe(false);
  });

  it("rejects at once with the signal's reason when the caller gives up, and aborts the request", async () => {
    const clock = createFakeClock();
    const answering = recordingFetch();
    const driver = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      clock,
      healthCheck: { table: 'todos' },
      clientOptions: { global: { fetch: answering.fetch } },
    });
    const client = await driver.connect({ signal: signal() });

    const hanging = hangingFetch();
    const stuck = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      clock,
      healthCheck: { table: 'todos' },
      clientOptions: { global: { fetch: hanging.fetch } },
    });
    const controller = new AbortController();
    const connecting = stuck.connect({ signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(hanging.sent).toHaveLength(1);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(connecting).rejects.toBe(reason);
    expect(hanging.sent[0]!.signal?.aborted).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    await driver.close(client);
  });

  it('close() is idempotent and makes later requests of the client fail at once', async () => {
    const { sent, fetch } = recordingFetch();
    const driver = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      healthCheck: { table: 'todos' },
      clientOptions: { global: { fetch } },
    });
    const client = await driver.connect({ signal: signal() });
    const first = driver.close(client);
    expect(driver.close(client)).toBe(first);
    await first;
    const before = sent.length;
    await expect(driver.validate(client, { signal: signal() })).rejects.toMatchObject({
      code: 'ERR_SUPABASE_CLIENT_CLOSED',
    });
    const answer = await client.from('todos').select('*');
    expect(driver.classifyError(answer.error)).toBe('connection');
    expect(sent.length).toBe(before);
  });

  it('fails the table check on a HEAD answered 404, which supabase-js reports as a success', async () => {
    const { fetch } = recordingFetch(404);
    const driver = createSupabaseDriver<SupabaseClient>({
      url: URL_,
      key: KEY,
      healthCheck: { table: 'missing' },
      clientOptions: { global: { fetch } },
    });
    const error = await driver.connect({ signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'SupabaseRequestError', status: 404 });
    expect(driver.classifyError(error)).toBe('query');
  });
});
