import net from 'node:net';

interface Slowness {
  pattern: RegExp;
  delayMs: number;
}

/**
 * A loopback TCP proxy a test can cut: `cut()` drops every open connection and refuses
 * new ones until `restore()`, which is how a test makes PostgreSQL or Redis "go down"
 * without stopping the shared server.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  private down = false;
  private slow: Record<'request' | 'reply', Slowness | null> = { request: null, reply: null };
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static forUrl(url: string): TcpProxy {
    const parsed = new URL(url);
    const fallback = url.startsWith('redis') ? 6379 : 5432;
    return new TcpProxy(parsed.hostname, Number(parsed.port || fallback));
  }

  /** The same URL, pointed at the proxy. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      this.forward('request', client, upstream);
      this.forward('reply', upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as net.AddressInfo).port;
  }

  /**
   * Holds back each reply chunk matching `reply` for `delayMs` (and, to keep their order,
   * the chunks after it): a server that answers one command slowly.
   */
  slowReplies(reply: RegExp, delayMs: number): void {
    this.slow.reply = { pattern: reply, delayMs };
  }

  /**
   * The same for the client's side: a request chunk matching `request` reaches the server
   * `delayMs` late (a command the client gave up on that still runs later).
   */
  slowRequests(request: RegExp, delayMs: number): void {
    this.slow.request = { pattern: request, delayMs };
  }

  private forward(direction: 'request' | 'reply', from: net.Socket, to: net.Socket): void {
    let sent = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const slow = this.slow[direction];
      const delayMs = slow?.pattern.test(chunk.toString('latin1')) ? slow.delayMs : 0;
      sent = sent
        .then(() => (delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, delayMs)) : undefined))
        .then(() => void (to.destroyed || to.write(chunk)));
    });
  }

  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.down = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
