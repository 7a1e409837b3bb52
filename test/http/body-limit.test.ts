import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DRAIN_FLOOR_BYTES } from '../../src/http/body-limit-drain.js';
import { SERVICE } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

const LIMIT = 65_536;

/** What a client that is still sending reads back: the status and code, or the error instead. */
async function post(url: string, bytes: number): Promise<string> {
  try {
    const response = await fetch(`${url}/check`, {
      method: 'POST',
      headers: { ...SERVICE, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u-1', model: 'm', pad: 'x'.repeat(bytes) }),
    });
    const problem = (await response.json()) as { code?: string };
    return `${response.status} ${problem.code ?? ''}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return `error ${cause?.code ?? String(err)}`;
  }
}

/** Sends `head` and `body` on a raw socket and resolves with what came back once the server ended its side. */
async function rawExchange(url: string, head: string, body: string): Promise<string> {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(head + body);
  try {
    return await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.once('end', () => resolve(text));
      socket.once('error', () => resolve(text));
    });
  } finally {
    socket.destroy();
  }
}

// A server process of its own: in the test's process, client and server share one event
// loop and the server always reads before the client's writes fail, which hides the race.
describeWithServers('a body over BODY_LIMIT_BYTES, from a client still sending it', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({
      DATABASE_URL: databaseUrl(),
      REDIS_URL: services.redisUrl ?? '',
      REDIS_KEY_PREFIX: prefix,
      BODY_LIMIT_BYTES: String(LIMIT),
    });
  }, 60_000);
  afterAll(() => server?.stop());

  // Without the drain, 5 MiB (past loopback's socket buffers) got EPIPE in most tries.
  it('reaches the client as 413 payload_too_large, 20 times out of 20 (5 MiB against 64 KiB)', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await post(server.url, 5 * 1_048_576));
    expect(answers).toEqual(Array.from({ length: 20 }, () => '413 payload_too_large'));
  });

  it('answers a body just over the limit with 413 as well', async () => {
    expect(await post(server.url, LIMIT)).toBe('413 payload_too_large');
  });

  it('answers a declared length past the drain cap at once, without reading the body', async () => {
    const declared = DRAIN_FLOOR_BYTES * 16;
    const head =
      `POST /check HTTP/1.1\r\nhost: x\r\nauthorization: ${SERVICE.authorization}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${declared}\r\n\r\n`;
    const started = Date.now();
    const reply = await rawExchange(server.url, head, 'x'.repeat(1024));
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toMatch(/connection: close/i);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
