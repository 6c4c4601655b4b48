import { createServer } from 'node:net';

/** The loopback address every server and fake listener binds to: tests never leave the machine. */
export const LOOPBACK = '127.0.0.1';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read what the OS chose,
 * close. Another process may take it before we bind again, so callers retry on "address in use".
 */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        if (port > 0) resolve(port);
        else reject(new Error('the OS did not report the port it bound'));
      });
    });
  });
}
