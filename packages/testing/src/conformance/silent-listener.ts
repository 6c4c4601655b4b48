import { createServer, type Socket } from 'node:net';
import { LOOPBACK } from '../postgres/free-port.js';

/** A TCP listener that accepts connections and never says a word: a hung database. */
export interface SilentListener extends AsyncDisposable {
  readonly port: number;
  /** Sockets accepted and not yet closed by the peer. */
  openSockets(): number;
  /** Resolves once every accepted socket was closed by the client, or rejects after `timeoutMs`. */
  waitUntilClientsClosed(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a listener on a free loopback port that holds every socket open without answering,
 * so a driver's connect() hangs in the handshake until its signal aborts it.
 */
export async function startSilentListener(): Promise<SilentListener> {
  const sockets = new Set<Socket>();
  const closedListeners = new Set<() => void>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    // Read and discard: a paused socket would never see the client's FIN ('end' needs the
    // buffered startup message consumed first).
    socket.resume();
    socket.on('close', () => {
      sockets.delete(socket);
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
    waitUntilClientsClosed: (timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (sockets.size > 0) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `${sockets.size} socket(s) to the silent listener still open ${timeoutMs} ms later`,
            ),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          closedListeners.delete(check);
        };
        closedListeners.add(check);
        check();
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
