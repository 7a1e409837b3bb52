import { and, eq, like, sql, sum } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, rowsOf, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { applyIntents, dirtySubjects, ledgerRollups, usageLedger } from '../../src/db/schema.js';
import { insertEntries, type LedgerEntry } from '../../src/ledger/ledger-rows.js';
import { LedgerUnavailableError, SettleBatcher } from '../../src/ledger/settle-batcher.js';
import { withSafeErrors } from '../../src/ops/error-log.js';
import { useProxiedPostgres } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const logger = pino({ level: 'silent' });
let sequence = 0;

function entry(overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  sequence += 1;
  return {
    requestId: `r-${sequence}`,
    userId: 'u-1',
    keyId: null,
    model: 'claude-opus-4-1',
    modelGroupId: null,
    costMicros: 17_300,
    inputTokens: 0,
    outputTokens: 0,
    countedInUserGlobal: true,
    countedInKeyGlobal: false,
    buckets: ['user:u-1|*|cost|daily'],
    status: 'settled',
    reservedAt: null,
    settledAt: new Date('2027-01-04T10:00:00.000Z'),
    metadata: { upstream: 'anthropic' },
    markDirty: false,
    ...overrides,
  };
}

describeWithPostgres('settle batcher (group commit) on PostgreSQL', () => {
  const url = useTestDatabase();
  let database: Database;
  beforeAll(async () => {
    database = openPostgres(url(), 4);
    await applyMigrations(database);
  });
  afterAll(() => database?.close());

  it('commits concurrent settles together and answers each', async () => {
    const sizes: number[] = [];
    const batcher = new SettleBatcher(database, logger, { onBatch: (size) => sizes.push(size) });
    const entries = Array.from({ length: 40 }, () => entry());
    const outcomes = await Promise.all(entries.map((e) => batcher.submit(e)));
    expect(outcomes.every((o) => o.kind === 'written')).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(40);
    expect(sizes.length).toBeLessThan(40);
    const stored = await database.db.select().from(usageLedger);
    expect(stored.filter((r) => entries.some((e) => e.requestId === r.requestId))).toHaveLength(40);
  });

  it('answers a repeated request id as existing, with the first cost', async () => {
    const batcher = new SettleBatcher(database, logger);
    const first = entry({ costMicros: 100 });
    expect(await batcher.submit(first)).toMatchObject({ kind: 'written' });
    const again = await batcher.submit({
      ...first,
      costMicros: 250,
      settledAt: new Date('2027-01-04T10:00:01Z'),
    });
    expect(again).toMatchObject({ kind: 'exists', row: { costMicros: 100, status: 'settled' } });
  });

  it('answers the same request id twice in one batch: one written, one existing', async () => {
    const batcher = new SettleBatcher(database, logger);
    const first = entry();
    const [a, b] = await Promise.all([batcher.submit(first), batcher.submit({ ...first })]);
    expect(a).toMatchObject({ kind: 'written' });
    expect(b).toMatchObject({ kind: 'exists' });
  });

  it('commits batches side by side and keeps the entries of one request in arrival order', async () => {
    const sizes: number[] = [];
    const batcher = new SettleBatcher(database, logger, {
      maxBatch: 1,
      maxInFlight: 3,
      onBatch: (size) => sizes.push(size),
    });
    const others = Array.from({ length: 6 }, () => entry());
    const released = entry({ status: 'released', costMicros: 0, countedInUserGlobal: false });
    const settled = { ...released, status: 'settled' as const, costMicros: 5_000, countedInUserGlobal: true };
    const [release, settle, ...rest] = await Promise.all(
      [released, settled, ...others].map((e) => batcher.submit(e)),
    );
    // The settle waited for the release's commit: both were written, the row ends settled.
    expect(release).toEqual({ kind: 'written', xid: expect.stringMatching(/^\d+$/) });
    expect(settle).toMatchObject({ kind: 'written' });
    expect(rest.every((o) => o.kind === 'written')).toBe(true);
    expect(sizes).toEqual(Array.from({ length: 8 }, () => 1));
    const [row] = await database.db
      .select()
      .from(usageLedger)
      .where(eq(usageLedger.requestId, released.requestId));
    expect(row).toMatchObject({ status: 'settled', costMicros: 5_000 });
  });

  it("turns a released row settled with the settle's buckets and cost split (SPEC §4.5)", async () => {
    const batcher = new SettleBatcher(database, logger);
    const released = entry({
      status: 'released',
      costMicros: 0,
      buckets: ['user:u-1|*|requests|1h'],
      countedInUserGlobal: false,
    });
    expect(await batcher.submit(released)).toEqual({ kind: 'written', xid: expect.stringMatching(/^\d+$/) });
    const settled = {
      ...released,
      status: 'settled' as const,
      costMicros: 5_000,
      buckets: ['user:u-1|*|cost|daily', 'user:u-1|*|requests|1h'],
      countedInUserGlobal: true,
    };
    expect(await batcher.submit(settled)).toMatchObject({ kind: 'written' });
    const [row] = await database.db
      .select()
      .from(usageLedger)
      .where(eq(usageLedger.requestId, released.requestId));
    expect(row).toMatchObject({
      status: 'settled',
      costMicros: 5_000,
      buckets: settled.buckets,
      countedInUserGlobal: true,
    });
  });

  it('promises the apply of its settles in an apply intent of the same transaction, not of releases', async () => {
    const batcher = new SettleBatcher(database, logger);
    const settles = [entry({ userId: 'u-a' }), entry({ userId: 'u-b' }), entry({ userId: 'u-a' })];
    const outcomes = await Promise.all(settles.map((e) => batcher.submit(e)));
    const intents = new Set(outcomes.map((o) => (o.kind === 'written' ? o.intent : undefined)));
    expect(intents.size).toBe(1);
    const [intent] = [...intents];
    expect(intent).toBeTypeOf('number');
    const [row] = await database.db
      .select()
      .from(applyIntents)
      .where(eq(applyIntents.id, intent as number));
    expect(row?.subjects.sort()).toEqual(['u-a', 'u-b']);
    const release = await batcher.submit(entry({ status: 'released', costMicros: 0 }));
    expect(release).toEqual({ kind: 'written', xid: expect.stringMatching(/^\d+$/) });
    const dirty = await batcher.submit(entry({ markDirty: true }));
    expect(dirty).toEqual({ kind: 'written', xid: expect.stringMatching(/^\d+$/) });
  });

  it('keeps a release from overwriting a settle', async () => {
    const batcher = new SettleBatcher(database, logger);
    const settled = entry();
    await batcher.submit(settled);
    const release = await batcher.submit({ ...settled, status: 'released', costMicros: 0 });
    expect(release).toMatchObject({
      kind: 'exists',
      row: { status: 'settled', costMicros: settled.costMicros },
    });
  });

  it('never lets a bad row sink its batch', async () => {
    const batcher = new SettleBatcher(database, logger);
    const good = [entry(), entry()];
    const bad = entry({ costMicros: -1 });
    const outcomes = await Promise.all([
      batcher.submit(good[0]!),
      batcher.submit(bad),
      batcher.submit(good[1]!),
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['written', 'invalid', 'written']);
  });

  it('sets aside a row PostgreSQL refuses (a NUL), counted and logged once without the statement', async () => {
    const lines: string[] = [];
    const refused: string[] = [];
    const logged = withSafeErrors(pino({ level: 'info' }, { write: (line: string) => lines.push(line) }));
    const batcher = new SettleBatcher(database, logged, { onRefused: (table) => refused.push(table) });
    const good = [entry({ userId: 'u-nul-1' }), entry({ userId: 'u-nul-2' })];
    const poisoned = entry({ userId: 'u-nul-3', requestId: 'nul-\u0000-id' });
    const outcomes = await Promise.all([good[0]!, poisoned, good[1]!].map((e) => batcher.submit(e)));
    expect(outcomes.map((o) => o.kind)).toEqual(['written', 'invalid', 'written']);
    // What the caller may show or log: the SQLSTATE, not the statement or anybody's values.
    expect(outcomes[1]).toEqual({ kind: 'invalid', message: 'refused: 22021' });
    expect(refused).toEqual(['usage_ledger']);
    const rows = await database.db
      .select({ id: usageLedger.requestId })
      .from(usageLedger)
      .where(like(usageLedger.userId, 'u-nul-%'));
    expect(rows.map((r) => r.id).sort()).toEqual(good.map((e) => e.requestId).sort());
    const refusals = lines.filter((l) => l.includes('refused by PostgreSQL'));
    expect(refusals).toHaveLength(1);
    for (const text of ['params', 'Failed query', 'insert into', 'u-nul-1'])
      expect(refusals[0]).not.toContain(text);
  });

  it("keeps the first statement's answers when the statement for its raced ids is refused", async () => {
    // A statement-level trigger on the request-id gate refuses the first statement that runs
    // once the flag is visible: the raced ids' second statement (the batch's own statement
    // began before the flag's commit, the row-by-row retry comes after the refusal).
    await database.db.execute(
      sql.raw(`
        create table qg_fail_flag (on_id text);
        create sequence qg_fail_once;
        create function qg_fail() returns trigger language plpgsql as $$
        begin
          if exists (select 1 from qg_fail_flag) then
            if nextval('qg_fail_once') = 1 then
              raise exception 'injected: the raced statement is refused';
            end if;
          end if;
          return null;
        end $$;
        create trigger qg_fail before insert on ledger_request_ids
          for each statement execute function qg_fail();`),
    );
    try {
      const batcher = new SettleBatcher(database, logger);
      const raced = entry({ userId: 'u-raced', costMicros: 1_000 });
      const other = entry({ userId: 'u-raced', costMicros: 2_000 });
      // Another instance's transaction writes `raced` and holds its commit.
      let commit!: () => void;
      let written!: () => void;
      const held = new Promise<void>((resolve) => (commit = resolve));
      const wrote = new Promise<void>((resolve) => (written = resolve));
      const elsewhere = database.db.transaction(async (tx) => {
        await insertEntries(tx, [raced]);
        await tx.execute(sql`insert into qg_fail_flag values (${raced.requestId})`);
        written();
        await held;
      });
      await wrote;
      const outcomes = Promise.all([batcher.submit({ ...raced, costMicros: 5_000 }), batcher.submit(other)]);
      await waitForLockWaiter(database);
      commit();
      await elsewhere;
      const [repeat, fresh] = await outcomes;
      expect(fresh).toMatchObject({ kind: 'written', intent: expect.any(Number) });
      expect(repeat).toMatchObject({ kind: 'exists', row: { costMicros: 1_000, status: 'settled' } });
      // The refusal happened (1) and the raced id went row by row (2).
      const [once] = rowsOf<{ last_value: string }>(
        await database.db.execute(sql`select last_value from qg_fail_once`),
      );
      expect(Number(once?.last_value)).toBe(2);
      const rows = await database.db.select().from(usageLedger).where(eq(usageLedger.userId, 'u-raced'));
      expect(rows.map((r) => [r.requestId, r.costMicros]).sort()).toEqual(
        [
          [raced.requestId, 1_000],
          [other.requestId, 2_000],
        ].sort(),
      );
    } finally {
      await database.db.execute(
        sql.raw(`drop trigger qg_fail on ledger_request_ids; drop function qg_fail();
          drop sequence qg_fail_once; drop table qg_fail_flag;`),
      );
    }
  });

  it('marks the subject dirty in the same transaction when asked', async () => {
    const batcher = new SettleBatcher(database, logger);
    await batcher.submit(entry({ userId: 'u-dirty', markDirty: true }));
    const rows = await database.db.select().from(dirtySubjects).where(eq(dirtySubjects.subject, 'u-dirty'));
    expect(rows).toHaveLength(1);
  });
});

/** Until a statement of this database waits on a lock (the batch behind a held transaction). */
async function waitForLockWaiter(database: Database): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [waiting] = rowsOf<{ n: number }>(
      await database.db.execute(
        sql`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
      ),
    );
    if (Number(waiting?.n) > 0) return;
    if (Date.now() > deadline) throw new Error('no statement started waiting on the held transaction');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithPostgres('settle batcher when PostgreSQL is unreachable', () => {
  const proxied = useProxiedPostgres();

  it('rejects with LedgerUnavailableError after its retries, then records once when back', async () => {
    const { database, proxy } = proxied();
    const batcher = new SettleBatcher(database, logger, { retries: 1 });
    const e = entry();
    proxy.cut();
    await expect(batcher.submit(e)).rejects.toBeInstanceOf(LedgerUnavailableError);
    proxy.restore();
    expect(await batcher.submit(e)).toMatchObject({ kind: 'written' });
    expect(await batcher.submit(e)).toMatchObject({ kind: 'exists', row: { costMicros: e.costMicros } });
  });
});

describeWithPostgres('two instances settling the same request ids at once', () => {
  const url = useTestDatabase();
  let one: Database;
  let two: Database;
  beforeAll(async () => {
    one = openPostgres(url(), 4);
    two = openPostgres(url(), 4);
    await applyMigrations(one);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  const BUCKET = 'user:u-race|*|cost|daily';
  const dayRollup = async () => {
    const [row] = await one.db
      .select({ requests: sum(ledgerRollups.requests), cost: sum(ledgerRollups.costMicros) })
      .from(ledgerRollups)
      .where(and(eq(ledgerRollups.bucket, BUCKET), eq(ledgerRollups.level, 'day')));
    return { requests: Number(row?.requests ?? 0), cost: Number(row?.cost ?? 0) };
  };
  const raceEntry = (id: string, overrides: Partial<LedgerEntry>) =>
    entry({ requestId: id, userId: 'u-race', buckets: [BUCKET], ...overrides });

  it('records a retried settle once: one instance writes it, the other answers it as existing', async () => {
    const [a, b] = [new SettleBatcher(one, logger), new SettleBatcher(two, logger)];
    for (let round = 0; round < 15; round++) {
      const ids = Array.from({ length: 20 }, (_, i) => `dup-${round}-${i}`);
      const [first, second] = await Promise.all([
        Promise.all(ids.map((id) => a.submit(raceEntry(id, { costMicros: 1_000 })))),
        Promise.all(ids.map((id) => b.submit(raceEntry(id, { costMicros: 1_000 })))),
      ]);
      ids.forEach((_, i) => {
        expect([first[i]!.kind, second[i]!.kind].sort()).toEqual(['exists', 'written']);
        const existing = [first[i], second[i]].find((o) => o!.kind === 'exists');
        expect(existing).toMatchObject({ row: { costMicros: 1_000, status: 'settled' } });
      });
    }
    expect(await dayRollup()).toEqual({ requests: 300, cost: 300_000 });
  });

  it('settles a request whose release another instance records at the same moment, counting it once', async () => {
    const before = await dayRollup();
    const [a, b] = [new SettleBatcher(one, logger), new SettleBatcher(two, logger)];
    const reservedAt = new Date('2027-01-04T09:59:00.000Z');
    for (let round = 0; round < 15; round++) {
      const ids = Array.from({ length: 20 }, (_, i) => `rel-${round}-${i}`);
      const [releases, settles] = await Promise.all([
        Promise.all(
          ids.map((id) => a.submit(raceEntry(id, { status: 'released', costMicros: 0, reservedAt }))),
        ),
        Promise.all(ids.map((id) => b.submit(raceEntry(id, { costMicros: 500, reservedAt })))),
      ]);
      expect(settles.every((o) => o.kind === 'written')).toBe(true);
      for (const o of releases)
        if (o.kind !== 'written') expect(o).toMatchObject({ kind: 'exists', row: { status: 'settled' } });
    }
    const rows = await one.db
      .select({ status: usageLedger.status, cost: usageLedger.costMicros })
      .from(usageLedger)
      .where(like(usageLedger.requestId, 'rel-%'));
    expect(rows).toHaveLength(300);
    expect(rows.every((r) => r.status === 'settled' && r.cost === 500)).toBe(true);
    expect(await dayRollup()).toEqual({ requests: before.requests + 300, cost: before.cost + 150_000 });
  });
});

describeWithPostgres('settle batcher when its prepared statement is refused (an older PgBouncer)', () => {
  const url = useTestDatabase();
  let database: Database;
  beforeAll(async () => {
    database = openPostgres(url(), 2);
    await applyMigrations(database);
  });
  afterAll(() => database?.close());

  it('writes the batch row by row in a transaction instead, and answers each settle', async () => {
    // What PgBouncer in transaction mode answers when the Bind lands on another server connection.
    const refusing: Database = {
      ...database,
      prepared: () =>
        Promise.reject(
          Object.assign(new Error('prepared statement "qg_ledger_batch" does not exist'), { code: '26000' }),
        ),
    };
    const batcher = new SettleBatcher(refusing, logger);
    const settles = [entry({ userId: 'u-pooled' }), entry({ userId: 'u-pooled' })];
    const outcomes = await Promise.all(settles.map((e) => batcher.submit(e)));
    expect(outcomes.map((o) => o.kind)).toEqual(['written', 'written']);
    expect(outcomes.every((o) => o.kind === 'written' && o.intent !== undefined)).toBe(true);
    const rows = await database.db.select().from(usageLedger).where(eq(usageLedger.userId, 'u-pooled'));
    expect(rows.map((r) => r.requestId).sort()).toEqual(settles.map((e) => e.requestId).sort());
    expect(await batcher.submit({ ...settles[0]! })).toMatchObject({
      kind: 'exists',
      row: { costMicros: 17_300 },
    });
  });
});
