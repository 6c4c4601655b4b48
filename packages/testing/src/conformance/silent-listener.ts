import { createServer, type Socket } from 'node:net';
import { LOOPBACK } from '../postgres/free-port.js';

/** A TCP listener that accepts connections and never says a word: a hung database. */
export interface SilentListener extends AsyncDisposable {
  readonly port: number;
  /** Sockets accepted and not yet closed by the peer. */
  openSockets(): number;
  /**
   * Resolves once a client has sent its first bytes (a PostgreSQL client's startup or SSL
   * request), so a test knows the driver is inside the handshake; rejects after `timeoutMs`.
   */
  waitUntilClientSpoke(timeoutMs: number): Promise<void>;
  /** Resolves once every accepted socket was closed by the client, or rejects after `timeoutMs`. */
  waitUntilClientsClosed(timeoutMs: number): Promise<void>;
  /**
   * Resolves once every socket that sent something was closed by the client, or rejects after
   * `timeoutMs`. Sockets that never sent a byte are left out: Node's `fetch` (undici) opens a
   * fresh idle connection right after a request is aborted, and closes it after its keep-alive
   * timeout (4 s), so an HTTP client is judged by the socket that carried its request.
   */
  waitUntilSpeakersClosed(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a listener on a free loopback port that holds every socket open without answering,
 * so a driver's connect() hangs in the handshake until its signal aborts it.
 */
export async function startSilentListener(): Promise<SilentListener> {
  const sockets = new Set<Socket>();
  const speakers = new Set<Socket>();
  const closedListeners = new Set<() => void>();
  const spokeListeners = new Set<() => void>();
  let spoke = false;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    // Read and discard: a paused socket would never see the client's FIN ('end' needs the
    // buffered startup message consumed first).
    socket.on('data', () => {
      speakers.add(socket);
      if (spoke) return;
      spoke = true;
      for (const listener of spokeListeners) listener();
    });
    socket.on('close', () => {
      sockets.delete(socket);
      speakers.delete(socket);
      for (const listener of closedListeners) listener();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    port,
    openSockets: () => sockets.size,
    waitUntilClientSpoke: (timeoutMs) =>
      waitFor(
        spokeListeners,
        () => spoke,
        timeoutMs,
        () => `no client sent anything to the silent listener within ${timeoutMs} ms`,
      ),
    waitUntilClientsClosed: (timeoutMs) =>
      waitFor(
        closedListeners,
        () => sockets.size === 0,
        timeoutMs,
        () => `${sockets.size} socket(s) to the silent listener still open ${timeoutMs} ms later`,
      ),
    waitUntilSpeakersClosed: (timeoutMs) =>
      waitFor(
        closedListeners,
        () => speakers.size === 0,
        timeoutMs,
        () =>
          `${speakers.size} socket(s) that sent a request to the silent listener still open ${timeoutMs} ms later`,
      ),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Resolves once `done()` holds, re-checked whenever a listener in `listeners` is called. */
function waitFor(
  listeners: Set<() => void>,
  done: () => boolean,
  timeoutMs: number,
  failure: () => string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!done()) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(failure()));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      listeners.delete(check);
    };
    listeners.add(check);
    check();
  });
}
