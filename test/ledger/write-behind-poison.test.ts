import { inArray } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { firstUseWindows, reservations, sessionAdmissions } from '../../src/db/schema.js';
import { WriteBehind, type AdmissionRow, type ReservationRow } from '../../src/ledger/write-behind.js';
import { withSafeErrors } from '../../src/ops/error-log.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { useProxiedPostgres } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const AT = new Date('2027-01-04T10:00:00.000Z');
const LATER = new Date('2027-01-04T11:00:00.000Z');
let sequence = 0;

const reservation = (userId: string, requestId = `wb-r-${++sequence}`): ReservationRow => ({
  requestId,
  userId,
  reservedAt: AT,
  expiresAt: LATER,
  buckets: [`user:${userId}|*|requests|daily`],
  payload: '{"v":1}',
});

const admission = (userId: string, sessionId = `s-${++sequence}`): AdmissionRow => ({
  bucketKey: `user:${userId}|*|sessions|daily`,
  ownerType: 'user',
  ownerId: userId,
  sessionId,
  requestId: `wb-a-${sequence}`,
  admittedAt: AT,
  activeUntil: LATER,
});

/** A write-behind as the app wires it: a safe logger read back as lines, the refused-rows metric. */
function writeBehindOn(db: Database['db']) {
  const lines: string[] = [];
  const metrics = createMetrics();
  const logger = withSafeErrors(pino({ level: 'info' }, { write: (line: string) => lines.push(line) }));
  const writeBehind = new WriteBehind(db, logger, {
    onRefused: (table, rows) => metrics.refusedRows.inc({ table }, rows),
  });
  const refused = async (table: string) =>
    (await metrics.refusedRows.get()).values.find((v) => v.labels.table === table)?.value ?? 0;
  return { writeBehind, lines, refused };
}

describeWithPostgres('write-behind: a row PostgreSQL refuses', () => {
  const url = useTestDatabase();
  let database: Database;
  beforeAll(async () => {
    database = openPostgres(url(), 2);
    await applyMigrations(database);
  });
  afterAll(() => database?.close());

  const storedReservations = async (ids: string[]) =>
    (
      await database.db
        .select({ id: reservations.requestId })
        .from(reservations)
        .where(inArray(reservations.requestId, ids))
    )
      .map((r) => r.id)
      .sort();

  it("is set aside, logged once and counted, while the other users' rows commit", async () => {
    const { writeBehind, lines, refused } = writeBehindOn(database.db);
    const good = [reservation('u-good-1'), reservation('u-good-2')];
    const poisoned = reservation('u-bad', 'a\u0000b');
    const seated = admission('u-good-3');
    writeBehind.reservation(good[0]!);
    writeBehind.reservation(poisoned);
    writeBehind.reservation(good[1]!);
    writeBehind.admitted(seated);
    writeBehind.firstUseOpened({ bucketKey: 'user:u-good-4|*|cost|5h', startedAt: AT, lengthMs: 18_000_000 });
    await writeBehind.flush();

    expect(await storedReservations(good.map((r) => r.requestId))).toEqual(
      good.map((r) => r.requestId).sort(),
    );
    const admissions = await database.db
      .select()
      .from(sessionAdmissions)
      .where(inArray(sessionAdmissions.sessionId, [seated.sessionId]));
    expect(admissions).toHaveLength(1);
    const starts = await database.db
      .select()
      .from(firstUseWindows)
      .where(inArray(firstUseWindows.bucketKey, ['user:u-good-4|*|cost|5h']));
    expect(starts).toHaveLength(1);
    expect(await refused('reservations')).toBe(1);

    // Never retried: the next flush commits new rows at once and the refusal is not logged again.
    const next = reservation('u-good-5');
    writeBehind.reservation(next);
    await writeBehind.flush();
    expect(await storedReservations([next.requestId])).toEqual([next.requestId]);
    expect(await refused('reservations')).toBe(1);
    const refusals = lines.filter((l) => l.includes('refused by PostgreSQL'));
    expect(refusals).toHaveLength(1);
    expect(lines.filter((l) => l.includes('will retry'))).toEqual([]);
    // The line names the table, the SQLSTATE and the row's ids, never the statement or the other rows.
    const line = JSON.parse(refusals[0]!) as {
      table: string;
      requestId: string;
      err: { cause?: { code?: string } };
    };
    expect(line).toMatchObject({ table: 'reservations', requestId: 'a\u0000b' });
    expect(line.err.cause?.code).toBe('22021');
    for (const text of ['params', 'insert into', 'u-good-1', 'Failed query'])
      expect(refusals[0]).not.toContain(text);
  });

  it('sets aside each refused row of a large buffer and writes all the others', async () => {
    const { writeBehind, refused } = writeBehindOn(database.db);
    const rows = Array.from({ length: 200 }, (_, i) =>
      reservation(`u-many-${i}`, i % 67 === 5 ? `bad-${i}-\u0000` : `wb-many-${i}`),
    );
    for (const row of rows) writeBehind.reservation(row);
    await writeBehind.flush();
    const good = rows.filter((r) => !r.requestId.includes('\u0000')).map((r) => r.requestId);
    expect(await storedReservations(good)).toEqual(good.sort());
    expect(await refused('reservations')).toBe(3);
  });
});

describeWithPostgres('write-behind while PostgreSQL is unreachable', () => {
  const proxied = useProxiedPostgres();

  it('keeps its rows for the next flush instead of setting them aside', async () => {
    const { database, proxy } = proxied();
    const { writeBehind, refused, lines } = writeBehindOn(database.db);
    const row = reservation('u-outage');
    proxy.cut();
    writeBehind.reservation(row);
    await writeBehind.flush();
    proxy.restore();
    await writeBehind.flush();
    const stored = await database.db
      .select({ id: reservations.requestId })
      .from(reservations)
      .where(inArray(reservations.requestId, [row.requestId]));
    expect(stored).toHaveLength(1);
    expect(await refused('reservations')).toBe(0);
    expect(lines.some((l) => l.includes('will retry'))).toBe(true);
  });
});
