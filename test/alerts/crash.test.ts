import { Webhook } from 'standardwebhooks';
import { afterAll, expect, it } from 'vitest';
import { ADMIN, SERVICE } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { Receiver, eventually, headersOf } from './receiver.js';
import { createWebhook, deliveriesOf, sendTest, sleep, viaHttp } from './webhook-support.js';

describeWithPostgres('the outbox across a crash (server processes)', () => {
  const databaseUrl = useTestDatabase();
  const servers: ServerProcess[] = [];
  let receiver: Receiver | null = null;
  const start = async () => {
    // A 2 s timeout: an attempt cut off by the kill is taken again when its lease (timeout + 5 s) lapses.
    const server = await startServerProcess({ DATABASE_URL: databaseUrl(), WEBHOOK_TIMEOUT_MS: '2000' });
    servers.push(server);
    return server;
  };
  afterAll(async () => {
    await Promise.all(
      servers.filter((s) => s.process.exitCode === null && !s.process.signalCode).map((s) => s.stop()),
    );
    await receiver?.close();
  });

  it('delivers what a SIGKILLed instance had enqueued, from the next one, under the same webhook-id', async () => {
    const port = await Receiver.freePort();
    const first = await start();
    const api = viaHttp(first.url);
    const { id, secret } = await createWebhook(api, `http://127.0.0.1:${port}/hook`);
    // The receiver is down: the first event is tried and fails; the second is enqueued just before the kill (an attempt of it, if begun, dies with the process).
    const tried = await sendTest(api, id);
    await eventually(
      () => deliveriesOf(api, id),
      (d) => d[0]?.lastError !== null && d[0] !== undefined,
    );
    const lastMoment = await sendTest(api, id);
    await first.stop('SIGKILL');
    expect(first.process.signalCode).toBe('SIGKILL');

    const killedAt = Date.now();
    const second = await start();
    receiver = await Receiver.start(() => 200, port);
    const upAt = Date.now();
    await receiver.waitUntil(
      () => receiver!.of(tried).length > 0 && receiver!.of(lastMoment).length > 0,
      20_000,
    );
    const after = viaHttp(second.url);
    const log = await eventually(
      () => deliveriesOf(after, id),
      (d) => d.length === 2 && d.every((x) => x.status === 'delivered'),
    );
    expect(log.map((x) => [x.eventId, x.status])).toEqual([
      [lastMoment, 'delivered'],
      [tried, 'delivered'],
    ]);
    const receipts = receiver.received.map((r) => r.at - upAt);
    console.log(
      `after SIGKILL: next instance ready in ${upAt - killedAt} ms; receipts ${receipts.join(', ')} ms after the receiver came up`,
    );
    await sleep(1_000);
    expect(receiver.received.map((r) => r.id).sort()).toEqual([tried, lastMoment].sort());
    for (const got of receiver.received) {
      expect(new Webhook(secret).verify(got.body, headersOf(got))).toMatchObject({ type: 'webhook.test' });
    }
  });

  it('delivers the threshold crossing of a settle answered just before a SIGKILL', async () => {
    const port = await Receiver.freePort();
    const first = await start();
    const api = viaHttp(first.url);
    const { secret } = await createWebhook(api, `http://127.0.0.1:${port}/hook`);
    const call = (server: ServerProcess, method: string, path: string, body: object, token = ADMIN) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { ...token, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const group = (await (
      await call(first, 'POST', '/admin/model-groups', { name: 'crash-alerts', models: ['m-crash'] })
    ).json()) as { id: number };
    const limit = { subjectType: 'user', subjectId: 'u-crash', modelGroupId: group.id, metric: 'cost' };
    await call(first, 'PUT', '/admin/limits', { ...limit, window: 'total', limit: 1, alertAt: [0.5] });
    const settled = await call(
      first,
      'POST',
      '/settle',
      { requestId: 'r-crash', userId: 'u-crash', model: 'm-crash', costUsd: 0.6 },
      SERVICE,
    );
    expect(settled.status).toBe(200);
    // The receiver is down: the event can only be in the outbox when the process dies.
    await first.stop('SIGKILL');
    await start();
    receiver = await Receiver.start(() => 200, port);
    await receiver.waitUntil(() => receiver!.received.length > 0, 20_000);
    const [got] = receiver.received;
    expect(got && new Webhook(secret).verify(got.body, headersOf(got))).toMatchObject({
      type: 'quota.threshold_crossed',
      data: { requestId: 'r-crash', threshold: 0.5, used: 0.6, effectiveLimit: 1 },
    });
  });
});
