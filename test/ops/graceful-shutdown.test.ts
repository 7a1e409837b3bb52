import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { usageLedger } from '../../src/db/schema.js';
import { ADMIN, SERVICE } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeWithServers, services, useRedisPrefix, useTestDatabase } from '../support/services.js';

const MODEL = 'claude-opus-4-1';
const SETTLES = 600;
const IN_FLIGHT = 40;

/** Cost of settle i in µ$, distinct per request so a mixed-up row would show. */
const costOf = (i: number) => 1_000 + i;

describeWithServers('graceful shutdown during a settle burst', () => {
  const databaseUrl = useTestDatabase();
  const prefix = useRedisPrefix();
  let server: ServerProcess;
  let database: Database;

  beforeAll(async () => {
    server = await startServerProcess({
      DATABASE_URL: databaseUrl(),
      REDIS_URL: services.redisUrl ?? '',
      REDIS_KEY_PREFIX: prefix,
    });
    database = openPostgres(databaseUrl(), 2);
    const limit = { subjectType: 'user', subjectId: 'u-1', metric: 'cost', window: 'daily', limit: 1000 };
    const put = await fetch(`${server.url}/admin/limits`, {
      method: 'PUT',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify(limit),
    });
    expect(put.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await database?.close();
  });

  async function settle(i: number): Promise<boolean> {
    try {
      const response = await fetch(`${server.url}/settle`, {
        method: 'POST',
        headers: { ...SERVICE, 'content-type': 'application/json' },
        body: JSON.stringify({
          requestId: `burst-${i}`,
          costUsd: costOf(i) / 1e6,
          userId: 'u-1',
          model: MODEL,
        }),
      });
      return response.status === 200 && ((await response.json()) as { status?: string }).status === 'settled';
    } catch {
      return false; // connection refused or reset: not acknowledged
    }
  }

  it('answers or refuses every settle, loses none it acknowledged, and exits within 10 s', async () => {
    const acknowledged: number[] = [];
    let next = 0;
    let signalled: Promise<number | null> | null = null;
    let signalledAt = 0;
    const worker = async () => {
      while (next < SETTLES) {
        const i = next++;
        if (await settle(i)) acknowledged.push(i);
        if (!signalled && acknowledged.length >= SETTLES / 4) {
          signalledAt = Date.now();
          signalled = server.stop('SIGTERM');
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const exitCode = await signalled;
    const exitedAfterMs = Date.now() - signalledAt;

    console.log(`acknowledged ${acknowledged.length}/${SETTLES}, exit ${exitCode} after ${exitedAfterMs} ms`);
    expect(exitCode).toBe(0);
    expect(exitedAfterMs).toBeLessThan(10_000);
    expect(acknowledged.length).toBeGreaterThanOrEqual(SETTLES / 4);
    expect(acknowledged.length).toBeLessThan(SETTLES);

    const rows = await database.db
      .select({ requestId: usageLedger.requestId, costMicros: usageLedger.costMicros })
      .from(usageLedger)
      .where(
        inArray(
          usageLedger.requestId,
          Array.from({ length: SETTLES }, (_, i) => `burst-${i}`),
        ),
      );
    const stored = new Map(rows.map((r) => [r.requestId, r.costMicros]));
    // Nothing acknowledged is lost…
    for (const i of acknowledged) expect(stored.get(`burst-${i}`), `burst-${i}`).toBe(costOf(i));
    // …and whatever else reached the ledger is whole: the right cost for its request.
    for (const [requestId, cost] of stored) expect(cost).toBe(costOf(Number(requestId.slice(6))));
  }, 60_000);
});
