import net from 'node:net';

/**
 * A loopback TCP proxy a test can cut: `cut()` drops every open connection and refuses
 * new ones until `restore()`, which is how a test makes PostgreSQL or Redis "go down"
 * without stopping the shared server.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  private down = false;
  private slow: { reply: RegExp; delayMs: number } | null = null;
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
      client.pipe(upstream);
      this.forwardReplies(upstream, client);
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
    this.slow = { reply, delayMs };
  }

  private forwardReplies(upstream: net.Socket, client: net.Socket): void {
    let sent = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const delayMs = this.slow?.reply.test(chunk.toString('latin1')) ? this.slow.delayMs : 0;
      sent = sent
        .then(() => (delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, delayMs)) : undefined))
        .then(() => void (client.destroyed || client.write(chunk)));
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
