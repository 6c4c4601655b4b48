import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Bundles `src/` (without types) into this package's node_modules cache, so plain `node` child
 * processes run the code under test and still resolve `@enhanced-pool/circuit-breaker` and
 * `ioredis` from this package. About 1 s.
 */
export async function buildStoreForChildren(): Promise<string> {
  // One directory per test file: files run in parallel and each build cleans its own.
  const outDir = join(
    packageRoot,
    'node_modules',
    '.cache',
    `breaker-store-redis-test-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  await mkdir(outDir, { recursive: true });
  await build({
    entry: { index: join(packageRoot, 'src/index.ts') },
    format: ['esm'],
    outDir,
    dts: false,
    sourcemap: false,
    clean: true,
    silent: true,
    config: false,
    target: 'node20',
    platform: 'node',
    external: ['@enhanced-pool/circuit-breaker', 'ioredis'],
  });
  return join(outDir, 'index.js');
}

/** Removes what {@link buildStoreForChildren} built. */
export async function removeBuild(storeModule: string | undefined): Promise<void> {
  if (storeModule !== undefined) await rm(dirname(storeModule), { recursive: true, force: true });
}

export interface CallReport {
  readonly result: 'ok' | 'failed' | 'refused';
  /** The breaker ran the function (it did not refuse before calling it). */
  readonly ran: boolean;
  /** `process.hrtime` in ms: the machine's monotonic clock, comparable across processes. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly state: string;
  readonly attempts?: number;
}

export interface InstanceEvent {
  readonly event: 'stateChange' | 'storeError' | 'started';
  readonly name?: string;
  readonly to?: string;
  readonly reason?: string;
  readonly operation?: string;
  readonly code?: string;
  /** When the state changed, on the same clock as `startedAt`. */
  readonly at?: number;
}

/** A child process holding one breaker per name; see `fixtures/breaker-instance.mjs`. */
export interface Instance {
  readonly events: InstanceEvent[];
  /** Creates this instance's breaker `name` (consecutive window of 1, `storeTimeoutMs` 200). */
  create(name: string, openDurationMs: number): Promise<void>;
  call(name: string): Promise<CallReport>;
  fail(name: string): Promise<CallReport>;
  untilRefused(name: string): Promise<CallReport>;
  state(name: string): Promise<{ state: string; functionCalls: number; openRemainingMs: number }>;
  /** Resolves with the first event (already received or future) that matches. */
  waitFor(match: (event: InstanceEvent) => boolean, timeoutMs?: number): Promise<InstanceEvent>;
  exit(): Promise<void>;
}

export async function startInstance(storeModule: string, redisUrl: string): Promise<Instance> {
  const child: ChildProcess = fork(
    join(packageRoot, 'test/fixtures/breaker-instance.mjs'),
    [storeModule, redisUrl],
    { cwd: packageRoot, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const events: InstanceEvent[] = [];
  const waiters = new Set<{ match: (event: InstanceEvent) => boolean; resolve: () => void }>();
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (e: Error) => void }
  >();
  let nextId = 0;
  child.on(
    'message',
    (message: { id?: number; reply?: unknown; error?: string } & InstanceEvent) => {
      if (message.id !== undefined) {
        const request = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) request?.reject(new Error(message.error));
        else request?.resolve(message.reply);
        return;
      }
      events.push(message);
      for (const waiter of [...waiters]) if (waiter.match(message)) waiter.resolve();
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => {
    for (const request of pending.values()) request.reject(new Error('the instance exited'));
    pending.clear();
  });

  const send = <T>(command: string, name?: string, openDurationMs?: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      nextId += 1;
      pending.set(nextId, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id: nextId, command, name, openDurationMs });
    });

  const waitFor = (match: (event: InstanceEvent) => boolean, timeoutMs = 10_000) => {
    const found = events.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<InstanceEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`),
        );
      }, timeoutMs);
      const waiter = {
        match,
        resolve: () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(events.find(match) as InstanceEvent);
        },
      };
      waiters.add(waiter);
    });
  };

  await waitFor((event) => event.event === 'started');
  return {
    events,
    create: async (name, openDurationMs) => {
      await send('create', name, openDurationMs);
    },
    call: (name) => send('call', name),
    fail: (name) => send('fail', name),
    untilRefused: (name) => send('untilRefused', name),
    state: (name) => send('state', name),
    waitFor,
    async exit() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await send('exit').catch(() => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
