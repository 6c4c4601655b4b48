import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/** Protocol codes of the untyped messages a client may open with. */
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;

/**
 * Messages after which the backend answers and the client waits: one round trip's worth of
 * messages ends with one of these, and is run as one unit.
 */
const ROUND_TRIP_ENDS: ReadonlySet<number> = new Set([
  0x53, // 'S' Sync: ends an extended-protocol exchange (Parse, Bind, Describe, Execute)
  0x51, // 'Q' Query: the simple protocol, one message
  0x48, // 'H' Flush
  0x63, // 'c' CopyDone
  0x66, // 'f' CopyFail
]);
const TERMINATE = 0x58; // 'X'

/** A round trip from one client, waiting for the backend. */
interface Exchange {
  readonly client: ClientConnection;
  readonly bytes: Uint8Array;
}

interface ClientConnection {
  readonly socket: Socket;
  buffer: Buffer;
  started: boolean;
  closed: boolean;
}

/** What {@link servePglite} returns. */
export interface PgliteServer {
  readonly port: number;
  /** Client connections open now. */
  connections(): number;
  /** Stops listening and closes every client connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves one pglite over the PostgreSQL wire protocol to many clients, one round trip at a time.
 *
 * pglite is a single backend, so clients take turns. A turn is a whole round trip (everything up
 * to a Sync or a simple Query), never a single message: two pools' Parse/Bind/Execute sequences
 * interleaved message by message would overwrite each other's unnamed statement and portal. An
 * open transaction belongs to the client that began it: others wait until it ends, and if its
 * client goes away it is rolled back.
 */
export async function servePglite(
  db: PGlite,
  options: { maxConnections: number },
): Promise<PgliteServer> {
  const clients = new Set<ClientConnection>();
  const queue: Exchange[] = [];
  let owner: ClientConnection | undefined;
  let running = false;

  const next = (): Exchange | undefined => {
    if (owner !== undefined) {
      const index = queue.findIndex((exchange) => exchange.client === owner);
      return index === -1 ? undefined : queue.splice(index, 1)[0];
    }
    return queue.shift();
  };

  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        if (owner?.closed) await release(owner);
        const exchange = next();
        if (exchange === undefined) break;
        const { client, bytes } = exchange;
        if (client.closed) continue;
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(bytes, {
              onRawData: (data: Uint8Array) => {
                if (!client.closed && data.length > 0) client.socket.write(data);
              },
            }),
          );
        } catch {
          client.socket.destroy();
        }
        owner = db.isInTransaction() ? client : undefined;
        // pglite runs on this thread: let the service's own I/O in between two round trips.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      running = false;
    }
  };

  /** Rolls back the transaction a client left open when it went away. */
  const release = async (client: ClientConnection): Promise<void> => {
    if (owner !== client) return;
    owner = undefined;
    if (db.isInTransaction()) await db.exec('ROLLBACK').catch(() => {});
  };

  const enqueue = (client: ClientConnection, bytes: Uint8Array): void => {
    queue.push({ client, bytes });
    void run();
  };

  /** Splits what a client sent into round trips and queues each. */
  const receive = (client: ClientConnection): void => {
    let start = 0;
    let offset = 0;
    const buffer = client.buffer;
    while (!client.closed) {
      if (!client.started) {
        if (buffer.length - offset < 8) break;
        const length = buffer.readInt32BE(offset);
        if (buffer.length - offset < length) break;
        const code = buffer.readInt32BE(offset + 4);
        offset += length;
        start = offset;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          client.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          client.socket.end();
          return;
        }
        client.started = true;
        enqueue(client, Uint8Array.from(buffer.subarray(offset - length, offset)));
        continue;
      }
      if (buffer.length - offset < 5) break;
      const type = buffer[offset] as number;
      const length = buffer.readInt32BE(offset + 1) + 1;
      if (buffer.length - offset < length) break;
      offset += length;
      if (type === TERMINATE) {
        client.socket.end();
        break;
      }
      if (ROUND_TRIP_ENDS.has(type)) {
        enqueue(client, Uint8Array.from(buffer.subarray(start, offset)));
        start = offset;
      }
    }
    client.buffer = buffer.subarray(start);
  };

  const server: Server = createServer((socket) => {
    if (clients.size >= options.maxConnections) {
      socket.destroy();
      return;
    }
    const client: ClientConnection = {
      socket,
      buffer: Buffer.alloc(0),
      started: false,
      closed: false,
    };
    clients.add(client);
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      client.buffer = client.buffer.length === 0 ? data : Buffer.concat([client.buffer, data]);
      receive(client);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      client.closed = true;
      clients.delete(client);
      // The run loop rolls back a transaction the client left open, between two round trips.
      void run();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  let closing: Promise<void> | undefined;
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    connections: () => clients.size,
    close() {
      closing ??= (async () => {
        const closed = once(server, 'close');
        server.close();
        for (const client of clients) client.socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
