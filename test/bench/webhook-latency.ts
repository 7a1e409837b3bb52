import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminClient } from './seed.js';
import { MODEL } from './seed.js';

export interface WebhookLatency {
  events: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * SPEC §5.1 end to end: for each of `n` fresh users, a settle that crosses a threshold, timed
 * from the settle's answer to the receiver's receipt of its `quota.threshold_crossed` event
 * (outbox write, a worker's claim, the signed POST). Sequential, so each figure is one event.
 */
export async function measureWebhookLatency(
  baseUrl: string,
  admin: AdminClient,
  serviceToken: string,
  modelGroupId: number,
  n = 30,
): Promise<WebhookLatency> {
  const arrivals = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const event = JSON.parse(body) as { type: string; data?: { requestId?: string } };
      const requestId = event.data?.requestId;
      if (event.type === 'quota.threshold_crossed' && requestId) {
        arrivals.set(requestId, performance.now());
        waiting.get(requestId)?.();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const hook = await admin.send<{ id: number }>('POST', '/admin/webhooks', { url, description: 'bench' });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const userId = `bench-alert-${i}`;
      await admin.send('PUT', '/admin/limits', {
        subjectType: 'user',
        subjectId: userId,
        modelGroupId,
        metric: 'cost',
        window: 'total',
        limit: 1,
        alertAt: [0.5],
      });
      const requestId = `bench-alert-r-${i}`;
      const arrived = new Promise<void>((resolve) => waiting.set(requestId, resolve));
      const res = await fetch(`${baseUrl}/settle`, {
        method: 'POST',
        headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ requestId, userId, model: MODEL, costUsd: 0.6 }),
      });
      const answered = performance.now();
      if (res.status !== 200) throw new Error(`settle for the webhook bench answered ${res.status}`);
      await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      const at = arrivals.get(requestId);
      if (at === undefined) throw new Error(`no webhook event for ${requestId} within 10 s`);
      latencies.push(at - answered);
    }
  } finally {
    await admin.send('DELETE', `/admin/webhooks/${hook.id}`).catch(() => undefined);
    await new Promise((resolve) => server.close(resolve));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { events: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
