import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RedisServerError, redisUnavailable, startRedis } from './start-redis.js';

/** Sends one inline command over a raw socket and returns the first reply line. */
async function send(port: number, command: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.split('\r\n')[0] as string);
      }
    });
    socket.write(`${command}\r\n`);
  });
}

const missing = redisUnavailable();
if (missing !== undefined) console.warn(`skipping startRedis() tests: ${missing}`);

describe('startRedis()', () => {
  it('reports a missing executable as a skip reason and a typed error', async () => {
    expect(redisUnavailable({ binary: '/nonexistent/redis-server' })).toMatch(
      /no redis-server executable at \/nonexistent\/redis-server/,
    );
    const error = await startRedis({ binary: '/nonexistent/redis-server' }).catch((e) => e);
    expect(error).toBeInstanceOf(RedisServerError);
    expect(error.code).toBe('REDIS_UNAVAILABLE');
  });

  it.skipIf(missing)('starts on loopback, can be killed and restarted, and cleans up', async () => {
    const server = await startRedis({ settings: { maxclients: 64 } });
    try {
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      expect(await send(server.port, 'PING')).toBe('+PONG');
      expect(await send(server.port, 'CONFIG GET maxclients')).toBe('*2');
      const pid = server.pid as number;
      expect(pid).toBeGreaterThan(0);
      await server.kill();
      expect(server.pid).toBeUndefined();
      await expect(send(server.port, 'PING')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await server.restart();
      expect(await send(server.port, 'PING')).toBe('+PONG');
    } finally {
      await server.stop();
      await server.stop();
    }
    expect(server.pid).toBeUndefined();
    await expect(send(server.port, 'PING')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it.skipIf(missing)('keeps its log in a temp directory that stop() removes', async () => {
    const server = await startRedis();
    expect(existsSync(`${server.directory}/redis.log`)).toBe(true);
    await server.stop();
    expect(existsSync(server.directory)).toBe(false);
  });
});
