import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../support/server-process.js';

/** What a receiver got: the Standard Webhooks headers, the raw body, when (epoch ms). */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  contentType: string;
  body: string;
  at: number;
}

/** Status to answer the n-th (1-based) request carrying one webhook-id. */
export type Responder = (attempt: number, received: Received) => number;

/** A real HTTP receiver on a loopback port (no mocks): records every request, answers by `respond`. */
export class Receiver {
  readonly received: Received[] = [];
  /** How long each answer takes (a slow receiver keeps its attempts in flight). */
  delayMs = 0;
  private waiters: { done: () => boolean; resolve: () => void }[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    public respond: Responder,
  ) {}

  static async start(respond: Responder = () => 200, port = 0): Promise<Receiver> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const receiver = new Receiver(server, (server.address() as AddressInfo).port, respond);
    server.on('request', (req, res) => receiver.handle(req, res));
    return receiver;
  }

  /** A port nothing listens on yet, for a receiver that comes up later. */
  static freePort = freePort;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  of(id: string): Received[] {
    return this.received.filter((r) => r.id === id);
  }

  /** Resolves once `done()` holds (checked on every request), or rejects after `timeoutMs`. */
  waitUntil(done: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`receiver: condition not met in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const header = (name: string) => String(req.headers[name] ?? '');
      const received: Received = {
        id: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        contentType: header('content-type'),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      this.received.push(received);
      res.statusCode = this.respond(this.of(received.id).length, received);
      setTimeout(() => res.end(), this.delayMs);
      this.waiters = this.waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
    });
  }
}

/** The headers as `Webhook.verify` takes them. */
export const headersOf = (r: Received) => ({
  'webhook-id': r.id,
  'webhook-timestamp': r.timestamp,
  'webhook-signature': r.signature,
});

export async function eventually<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
