import { connect, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '@enhanced-pool/core';

/** What one proxied connection needs from its proxy: where to connect, the delay, the clock. */
export interface ConnectionHost {
  readonly target: { readonly host: string; readonly port: number };
  readonly clock: Clock;
  /** Added to every chunk travelling from the server to the client, read per chunk. */
  latencyMs(): number;
  /** Called once when both sockets are gone. */
  closed(connection: ProxiedConnection): void;
}

interface DelayedChunk {
  readonly dueAt: number;
  /** `undefined`: the server's end of stream, passed on once the chunks before it are. */
  readonly data: Buffer | undefined;
}

/** Downstream bytes held for latency beyond which the server socket is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * One client connection and its upstream socket. Client-to-server bytes are written at once;
 * server-to-client bytes go through a queue that delays each chunk by the proxy's latency,
 * keeping their order. `stall()` stops both directions (nothing read, nothing written) until
 * `resume()`, the way a network that drops every packet looks to both ends.
 */
export class ProxiedConnection {
  readonly client: Socket;
  private upstream: Socket | undefined;
  private readonly host: ConnectionHost;
  private readonly queue: DelayedChunk[] = [];
  private queuedBytes = 0;
  private timer: TimerHandle | undefined;
  private stalled: boolean;
  private done = false;
  private serverEnded = false;
  private reported = false;
  /** What a held client sent before its connection reached the server. */
  private readonly heldChunks: Buffer[] = [];
  private heldBytes = 0;

  private readonly hold = (data: Buffer): void => {
    this.heldChunks.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes >= HIGH_WATER_BYTES) this.client.pause();
  };

  /**
   * @param held accepted during a blackhole: nothing is read and no upstream is opened until
   * {@link ProxiedConnection.resume}.
   */
  constructor(client: Socket, host: ConnectionHost, held: boolean) {
    this.client = client;
    this.host = host;
    this.stalled = held;
    client.setNoDelay(true);
    client.on('error', () => this.reset());
    client.on('close', () => this.clientClosed());
    if (held) {
      // Read (and keep) what a held client sends, so that a client giving up is noticed.
      client.on('data', this.hold);
      client.resume();
    } else {
      this.open();
    }
  }

  /** Whether the connection waits for a blackhole to end before it reaches the server. */
  get held(): boolean {
    return this.upstream === undefined && !this.done;
  }

  /** Stops reading and writing in both directions. */
  stall(): void {
    if (this.done || this.stalled) return;
    this.stalled = true;
    this.client.pause();
    this.upstream?.pause();
  }

  /** Undoes {@link ProxiedConnection.stall}; a held connection now opens its upstream. */
  resume(): void {
    if (this.done || !this.stalled) return;
    this.stalled = false;
    if (this.upstream === undefined) {
      this.open();
      return;
    }
    this.client.resume();
    if (this.queuedBytes < HIGH_WATER_BYTES) this.upstream.resume();
    this.flush();
  }

  /** Resets both sockets at once (the client sees `ECONNRESET`); what is queued is dropped. */
  reset(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (!this.client.destroyed) this.client.resetAndDestroy();
    const upstream = this.upstream;
    if (upstream !== undefined && !upstream.destroyed) {
      // A connect still in flight has nothing to reset yet.
      if (upstream.connecting) upstream.destroy();
      else upstream.resetAndDestroy();
    }
  }

  private open(): void {
    const upstream = connect({ host: this.host.target.host, port: this.host.target.port });
    this.upstream = upstream;
    this.client.off('data', this.hold);
    for (const chunk of this.heldChunks.splice(0)) upstream.write(chunk);
    this.heldBytes = 0;
    upstream.setNoDelay(true);
    upstream.on('error', () => this.reset());
    upstream.on('close', () => this.upstreamClosed());
    upstream.on('data', (data: Buffer) => this.fromServer(data));
    upstream.on('end', () => this.enqueue(undefined));
    upstream.on('drain', () => {
      if (!this.stalled) this.client.resume();
    });
    this.client.on('data', (data: Buffer) => {
      if (!upstream.write(data)) this.client.pause();
    });
    this.client.on('end', () => upstream.end());
    this.client.on('drain', () => {
      if (!this.stalled && this.queuedBytes < HIGH_WATER_BYTES) upstream.resume();
    });
    this.client.resume();
  }

  private fromServer(data: Buffer): void {
    this.enqueue(data);
    this.queuedBytes += data.length;
    if (this.queuedBytes >= HIGH_WATER_BYTES) this.upstream?.pause();
  }

  private enqueue(data: Buffer | undefined): void {
    if (this.done) return;
    if (data === undefined) {
      if (this.serverEnded) return;
      this.serverEnded = true;
    }
    const now = this.host.clock.now();
    const last = this.queue[this.queue.length - 1];
    // A latency lowered meanwhile must not let a later chunk overtake an earlier one.
    const dueAt = Math.max(now + this.host.latencyMs(), last?.dueAt ?? now);
    this.queue.push({ dueAt, data });
    this.flush();
  }

  /** Writes every chunk that is due, then sets one timer for the next. */
  private flush(): void {
    if (this.done || this.stalled || this.timer !== undefined) return;
    const now = this.host.clock.now();
    let head = this.queue[0];
    while (head !== undefined && head.dueAt <= now) {
      this.queue.shift();
      if (head.data === undefined) {
        this.client.destroySoon();
      } else {
        this.queuedBytes -= head.data.length;
        const accepted = this.client.write(head.data);
        if (accepted && this.queuedBytes < HIGH_WATER_BYTES) this.upstream?.resume();
      }
      head = this.queue[0];
    }
    if (head !== undefined) {
      this.timer = this.host.clock.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, head.dueAt - now);
    }
  }

  private clientClosed(): void {
    // The client is gone: write what it sent, then let the server see the close.
    if (this.upstream !== undefined && !this.upstream.destroyed) this.upstream.destroySoon();
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.done = true;
    this.reportIfClosed();
  }

  private upstreamClosed(): void {
    // Whatever the server sent before closing still reaches the client, delayed as usual.
    if (!this.serverEnded) this.enqueue(undefined);
    this.reportIfClosed();
  }

  private reportIfClosed(): void {
    if (this.reported || !this.client.destroyed) return;
    if (this.upstream !== undefined && !this.upstream.destroyed) return;
    this.reported = true;
    this.host.closed(this);
  }
}
