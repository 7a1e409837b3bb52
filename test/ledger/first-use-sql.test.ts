import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { firstUseWindows } from '../../src/db/schema.js';
import { bucketKey, parseBucketKey } from '../../src/domain/bucket-key.js';
import { firstUseCandidates } from '../../src/domain/first-use.js';
import type { Metric } from '../../src/domain/types.js';
import { SettleBatcher } from '../../src/ledger/settle-batcher.js';
import { ledgerEntry } from '../support/ledger.js';
import { describeWithPostgres, useTestDatabase } from '../support/services.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2027-01-04T10:00:00Z');
const LENGTH = 5 * HOUR;

interface Case {
  label: string;
  /** Starts already recorded (offsets from T0). */
  recorded: number[];
  reservedAt: number | null;
  settledAt: number;
  metric: Metric;
  spend?: { costMicros?: number; inputTokens?: number; outputTokens?: number };
  owner?: string;
}

const cases: Case[] = [
  {
    label: 'no start recorded: the settle opens one',
    recorded: [],
    reservedAt: null,
    settledAt: 0,
    metric: 'cost',
  },
  { label: 'at a recorded start', recorded: [0], reservedAt: null, settledAt: 0, metric: 'cost' },
  { label: 'one ms before the start', recorded: [0], reservedAt: null, settledAt: -1, metric: 'cost' },
  { label: 'one ms before its end', recorded: [0], reservedAt: null, settledAt: LENGTH - 1, metric: 'cost' },
  { label: 'exactly at its end', recorded: [0], reservedAt: null, settledAt: LENGTH, metric: 'cost' },
  { label: 'one ms after its end', recorded: [0], reservedAt: null, settledAt: LENGTH + 1, metric: 'cost' },
  {
    label: 'reserved inside, settled after the end: the spend opens one',
    recorded: [0],
    reservedAt: LENGTH - 1,
    settledAt: LENGTH + 1,
    metric: 'cost',
  },
  {
    label: 'reserved and settled after the end: both instants, judged apart',
    recorded: [0],
    reservedAt: LENGTH,
    settledAt: LENGTH + 2,
    metric: 'input_tokens',
    spend: { inputTokens: 5 },
  },
  {
    label: 'a request count takes its reserve instant only',
    recorded: [0],
    reservedAt: LENGTH - 1,
    settledAt: LENGTH + 1,
    metric: 'requests',
  },
  {
    label: 'a settle of nothing opens nothing',
    recorded: [],
    reservedAt: null,
    settledAt: 0,
    metric: 'cost',
    spend: {},
  },
  {
    label: 'tokens sum both directions',
    recorded: [],
    reservedAt: null,
    settledAt: 0,
    metric: 'tokens',
    spend: { outputTokens: 3 },
  },
  {
    label: "an owner id with '|' and ':' reads the metric right",
    recorded: [0],
    reservedAt: LENGTH - 1,
    settledAt: LENGTH,
    metric: 'requests',
    owner: 'a|b:c|cost',
  },
];

/** What an entry spends on a bucket of `metric` (the ledger statement's `case f.metric`). */
function spent(metric: Metric, spend: NonNullable<Case['spend']>): number {
  const { costMicros = 0, inputTokens = 0, outputTokens = 0 } = spend;
  const amounts: Partial<Record<Metric, number>> = {
    cost: costMicros,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    tokens: inputTokens + outputTokens,
    requests: 1,
  };
  return amounts[metric] ?? 0;
}

/**
 * The ledger statement's `opened` SQL restates two rules: which instants of a settle no
 * recorded first-use start covers (firstUseCandidates) and a bucket key's metric
 * (parseBucketKey). Run against the real PostgreSQL, it records exactly what those answer.
 */
describeWithPostgres('the ledger statement records first-use candidates as the domain rule does', () => {
  const url = useTestDatabase();
  let database: Database;
  let batcher: SettleBatcher;
  beforeAll(async () => {
    database = openPostgres(url(), 2);
    await applyMigrations(database);
    batcher = new SettleBatcher(database, pino({ level: 'silent' }));
  });
  afterAll(() => database?.close());

  const startsOf = async (key: string) =>
    (await database.db.select().from(firstUseWindows).where(eq(firstUseWindows.bucketKey, key)))
      .map((r) => r.startedAt.getTime())
      .sort((a, b) => a - b);

  it.each(cases.map((c, i) => [c.label, c, i] as const))('%s', async (_label, c, i) => {
    const key = bucketKey('user', c.owner ?? `u-sql-${i}`, 3, c.metric, '5h');
    expect(parseBucketKey(key)?.metric).toBe(c.metric);
    const recorded = c.recorded.map((at) => T0 + at);
    for (const at of recorded) {
      await database.db
        .insert(firstUseWindows)
        .values({ bucketKey: key, startedAt: new Date(at), lengthMs: LENGTH });
    }
    const spend = c.spend ?? { costMicros: 500 };
    const reservedAt = c.reservedAt === null ? null : T0 + c.reservedAt;
    const settledAt = T0 + c.settledAt;
    await batcher.submit(
      ledgerEntry({
        requestId: `fu-sql-${i}`,
        userId: `u-sql-${i}`,
        buckets: [key],
        costMicros: spend.costMicros ?? 0,
        inputTokens: spend.inputTokens ?? 0,
        outputTokens: spend.outputTokens ?? 0,
        reservedAt: reservedAt === null ? null : new Date(reservedAt),
        settledAt: new Date(settledAt),
        firstUseMs: { [key]: LENGTH },
      }),
    );
    const countedAt = reservedAt ?? settledAt;
    const instants = c.metric === 'requests' ? [countedAt] : [countedAt, settledAt];
    const candidates = spent(c.metric, spend) > 0 ? firstUseCandidates(instants, recorded, LENGTH) : [];
    expect(await startsOf(key)).toEqual([...new Set([...recorded, ...candidates])].sort((a, b) => a - b));
  });
});
