import { expect } from 'vitest';
import type { ThresholdCrossing } from '../../src/alerts/outbox.js';
import { ADMIN, type TestApp } from '../support/app.js';

/** The admin API of an in-process app (inject) or of a server process (HTTP), for the same helpers. */
export type AdminApi = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: object,
) => Promise<{ status: number; body: string }>;

export const viaInject =
  (t: TestApp): AdminApi =>
  async (method, path, body) => {
    const response = await t.inject({
      method,
      url: path,
      headers: ADMIN,
      ...(body ? { payload: body } : {}),
    });
    return { status: response.statusCode, body: response.body };
  };

export const viaHttp =
  (baseUrl: string): AdminApi =>
  async (method, path, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...ADMIN, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: await response.text() };
  };

export async function createWebhook(api: AdminApi, url: string, enabled = true) {
  const response = await api('POST', '/admin/webhooks', { url, enabled });
  expect(response.status, response.body).toBe(201);
  return JSON.parse(response.body) as { id: number; secret: string };
}

/** POST /admin/webhooks/{id}/test; the event id. */
export async function sendTest(api: AdminApi, id: number): Promise<string> {
  const response = await api('POST', `/admin/webhooks/${id}/test`);
  expect(response.status, response.body).toBe(202);
  return (JSON.parse(response.body) as { eventId: string }).eventId;
}

/** A row of GET /admin/webhooks/{id}/deliveries. */
export interface Delivery {
  eventId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
}

export async function deliveriesOf(api: AdminApi, id: number): Promise<Delivery[]> {
  const response = await api('GET', `/admin/webhooks/${id}/deliveries`);
  expect(response.status, response.body).toBe(200);
  return (JSON.parse(response.body) as { items: Delivery[] }).items;
}

export async function deleteAllWebhooks(api: AdminApi): Promise<void> {
  const { items } = JSON.parse((await api('GET', '/admin/webhooks')).body) as { items: { id: number }[] };
  for (const { id } of items) await api('DELETE', `/admin/webhooks/${id}`);
}

let crossingSeq = 0;
/** A crossing as the settle path reports it (SPEC §5.1's example), with a fresh request id. */
export const crossing = (extra: Partial<ThresholdCrossing> = {}): ThresholdCrossing => ({
  bucket: 'user:u-42|g3|cost|5h',
  axis: 'user',
  ownerId: 'u-42',
  modelGroupId: 3,
  metric: 'cost',
  window: '5h',
  threshold: 0.8,
  used: 8.1,
  effectiveLimit: 10,
  limitId: 12,
  shadow: false,
  resetAt: null,
  requestId: `r-${process.pid}-${++crossingSeq}`,
  ...extra,
});

export function summary(name: string, values: number[]): string {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return `${name}: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`;
}

export const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
