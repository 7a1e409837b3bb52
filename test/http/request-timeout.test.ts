import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SERVICE_TOKEN, startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const TIMEOUT_MS = 1_000;

/** Opens a connection, sends `partial` and never more; resolves with what came back and when it closed. */
async function stall(port: number, partial: string): Promise<{ reply: string; closedAfterMs: number }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = Date.now();
  socket.write(partial);
  let reply = '';
  socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
  await new Promise((resolve) => {
    socket.once('close', resolve);
    socket.once('end', resolve);
    setTimeout(resolve, 10_000); // no bound: the assertions below say so instead of a test timeout
  });
  socket.destroy();
  return { reply, closedAfterMs: Date.now() - started };
}

describeWithPostgres('a client that starts a request and never finishes it (REQUEST_TIMEOUT_MS=1000)', () => {
  const databaseUrl = useTestDatabase();
  let t: TestApp;
  let port = 0;
  beforeAll(async () => {
    t = await startTestApp({ databaseUrl: databaseUrl(), env: { REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
    port = Number(new URL(await t.app.listen({ port: 0, host: '127.0.0.1' })).port);
  });
  afterAll(() => t?.close());

  it('gets 408 and a closed connection soon after the deadline when the body stalls', async () => {
    const head =
      `POST /check HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${SERVICE_TOKEN}\r\n` +
      'content-type: application/json\r\ncontent-length: 100\r\n\r\n';
    const { reply, closedAfterMs } = await stall(port, `${head}{"userId":`);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(closedAfterMs).toBeLessThan(TIMEOUT_MS + 2_500);
  });

  it('gets 408 and a closed connection when the headers stall', async () => {
    const { reply, closedAfterMs } = await stall(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeLessThan(TIMEOUT_MS + 2_500);
  });

  it('still answers a request that arrives in time', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
  });
});
