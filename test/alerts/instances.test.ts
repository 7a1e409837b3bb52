import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueueCrossings } from '../../src/alerts/outbox.js';
import { systemClock } from '../../src/clock.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';
import { Receiver, eventually } from './receiver.js';
import { createWebhook, crossing, deliveriesOf, sendTest, sleep, viaInject } from './webhook-support.js';

async function deliveredBy(t: TestApp): Promise<number> {
  const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text
    .split('\n')
    .find((l) => l.startsWith('quotagate_webhook_deliveries_total{outcome="delivered"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describeWithPostgres('webhook delivery from two instances on one database', () => {
  const databaseUrl = useTestDatabase();
  let a: TestApp;
  let b: TestApp;
  let receiver: Receiver;
  beforeAll(async () => {
    a = await startTestApp({ databaseUrl: databaseUrl(), clock: systemClock });
    b = await startTestApp({ databaseUrl: databaseUrl(), clock: systemClock, migrate: false });
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await receiver?.close();
  });

  it('sends each delivery once, whichever instance takes it, even from a slow receiver', async () => {
    // 300 ms per answer: attempts stay in flight across several polls of both instances.
    receiver.delayMs = 300;
    const hooks = [
      await createWebhook(viaInject(a), receiver.url),
      await createWebhook(viaInject(b), receiver.url),
    ];
    const crossings = Array.from({ length: 40 }, () => crossing());
    // Both instances enqueue (each kicks both workers in this process), interleaved with test events.
    for (let i = 0; i < crossings.length; i += 4) {
      const by = i % 8 === 0 ? a : b;
      await enqueueCrossings(by.database.db, crossings.slice(i, i + 4), Date.now());
      await sendTest(viaInject(by === a ? b : a), hooks[(i / 4) % 2]!.id);
    }
    const expected = crossings.length * hooks.length + crossings.length / 4;
    await receiver.waitUntil(() => receiver.received.length >= expected, 20_000);
    // Let any duplicate show itself: leases are WEBHOOK_TIMEOUT_MS + 10 s, polls every 250–500 ms.
    await sleep(1_500);
    expect(receiver.received).toHaveLength(expected);
    const perHook = new Map<string, number>();
    for (const r of receiver.received) {
      const key = `${r.id} ${r.signature}`;
      perHook.set(key, (perHook.get(key) ?? 0) + 1);
    }
    // One event reaches two webhooks (two secrets, two signatures); each (event, webhook) once.
    expect([...perHook.values()].every((n) => n === 1)).toBe(true);
    for (const hook of hooks) {
      const log = await eventually(
        () => deliveriesOf(viaInject(a), hook.id),
        (d) => d.every((x) => x.status === 'delivered'),
      );
      expect(log.every((x) => x.attempts === 1)).toBe(true);
    }
    const [byA, byB] = [await deliveredBy(a), await deliveredBy(b)];
    console.log(`two instances delivered ${byA} + ${byB} of ${expected}, each once`);
    expect(byA + byB).toBe(expected);
  });
});
