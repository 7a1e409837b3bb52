import pg from 'pg';
import { benchLog, build, machine, prepareWorld, runBench, type Cleanup } from '../harness.js';
import { AdminClient } from '../seed.js';
import { generateBurst } from './burst.js';
import { generateRows, ledgerTotalsOf, rebuildRollups, userIdOf, type LedgerShape } from './ledger-sql.js';
import { check, coldDecisions, warmEveryone, type Gateway, type Percentiles } from './measure.js';
import { describeRecoverySettings, loadRecoverySettings, type RecoverySettings } from './settings.js';

/**
 * `npm run bench:recovery`: how long the first decisions take after Redis lost everything,
 * for users with long and short histories, at two ledger sizes. One quotagate process
 * (built JS) on a database of its own whose ledger is generated in SQL; Redis keys of the
 * run's prefix are deleted before each measurement (never FLUSHALL: Redis may be shared).
 */
const log = benchLog('bench:recovery');
const MODEL = 'recovery-model';
/** Limits far above the history (every answer admits), in every counting shape a rebuild reads. */
const LIMITS = [
  { metric: 'cost', window: '5h' },
  { metric: 'cost', window: 'daily', reset: 'calendar' },
  { metric: 'cost', window: 'monthly', reset: 'calendar' },
  { metric: 'cost', window: '30d' },
  { metric: 'cost', window: 'total' },
  { metric: 'requests', window: 'total' },
] as const;
const CAP = 1_000_000_000;

interface SizeFigures {
  rows: number;
  seedSeconds: number;
  heavy: Percentiles;
  light: Percentiles;
  fresh: Percentiles;
  warm: { seconds: number; failedOpen: number };
  warmUsers: number;
}

/** The burst profile, measured once on the largest ledger: burst users beside light ones. */
interface BurstFigures {
  rows: number;
  burst: Percentiles;
  light: Percentiles;
}

/** Share of a burst user's rows inside the last minute (the rest in the hour before). */
const BURST_IN_LAST_MINUTE = 0.9;

/** The requests limit counts the history but waits WRITE_BEHIND_SETTLE_MS in every cold rebuild: only verified. */
const isTimed = (l: (typeof LIMITS)[number]) => l.metric === 'cost';

interface Tenant {
  modelGroupId: number;
  /** Puts (again) the limits the timed decisions leave out; returns a function that deletes them. */
  putUntimed(): Promise<() => Promise<void>>;
}

async function configure(admin: AdminClient, userIds: string[]): Promise<Tenant> {
  const group = await admin.send<{ id: number }>('POST', '/admin/model-groups', {
    name: 'recovery',
    models: [MODEL],
  });
  const users = await admin.send<{ id: number }>('POST', '/admin/user-groups', { name: 'recovery-users' });
  for (let i = 0; i < userIds.length; i += 1000)
    await admin.send('POST', `/admin/user-groups/${users.id}/members`, {
      userIds: userIds.slice(i, i + 1000),
    });
  const put = (l: (typeof LIMITS)[number]) =>
    admin.send<{ id: number }>('PUT', '/admin/limits', {
      subjectType: 'user_group',
      subjectId: String(users.id),
      modelGroupId: group.id,
      ...l,
      limit: CAP,
    });
  for (const l of LIMITS.filter(isTimed)) await put(l);
  return {
    modelGroupId: group.id,
    putUntimed: async () => {
      const ids: number[] = [];
      for (const l of LIMITS.filter((l) => !isTimed(l))) ids.push((await put(l)).id);
      return async () => {
        for (const id of ids) await admin.send('DELETE', `/admin/limits/${id}`);
      };
    },
  };
}

/** One real reserve and settle: the ledger row it writes names the buckets every generated row copies. */
async function templateBuckets(gateway: Gateway, db: pg.Client, userId: string): Promise<string[]> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  };
  await post('/reserve', { userId, model: MODEL, requestId: 'template', estimatedCostUsd: 0.001 });
  await post('/settle', { requestId: 'template', costUsd: 0.001 });
  const { rows } = await db.query<{ buckets: string[] }>(
    `select buckets from usage_ledger where request_id = 'template'`,
  );
  const buckets = rows[0]?.buckets;
  if (!buckets || buckets.length !== LIMITS.length) throw new Error(`template row: ${JSON.stringify(rows)}`);
  return buckets;
}

/** The lifetime buckets of a user, rebuilt cold, must hold exactly its ledger's cost and requests. */
async function verifyTotals(gateway: Gateway, db: pg.Client, userIds: string[]): Promise<void> {
  for (const userId of userIds) {
    const body = await judged(gateway, userId);
    const total = (metric: string) =>
      body.buckets.find((b) => b.window === 'total' && b.metric === metric)?.used;
    const ledger = await ledgerTotalsOf(db, userId);
    const cost = total('cost');
    const requests = total('requests');
    if (cost === undefined || Math.abs(cost - ledger.costMicros / 1e6) > 1e-6 || requests !== ledger.requests)
      throw new Error(
        `${userId}: total buckets show $${cost} and ${requests} requests after the rebuild, the ledger $${ledger.costMicros / 1e6} and ${ledger.requests}`,
      );
  }
}

/** A judged answer: one that failed open (a rebuild slower than its budget) is asked again. */
async function judged(gateway: Gateway, userId: string): Promise<Awaited<ReturnType<typeof check>>> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const body = await check(gateway, userId, true);
    if (!body.failOpen) return body;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`/check for ${userId} kept failing open`);
}

/** `count` ids spread evenly over [from, to). */
const spread = (from: number, to: number, count: number) =>
  Array.from({ length: Math.min(count, to - from) }, (_, i) =>
    userIdOf(from + Math.floor((i * (to - from)) / Math.min(count, to - from))),
  );

async function recovery(settings: RecoverySettings, cleanup: Cleanup): Promise<void> {
  if (settings.build) build();
  const world = await prepareWorld('recovery', settings, cleanup);
  const { adminToken, serviceToken, databaseUrl } = world;
  const flush = () => world.deleteKeys();
  const quotagate = await world.startQuotagate();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  cleanup.add('close the database client', () => db.end());

  const historyIds = Array.from({ length: settings.users }, (_, i) => userIdOf(i));
  const freshIds = Array.from({ length: settings.fresh }, (_, i) => userIdOf(settings.users + i));
  const burstIds = Array.from({ length: settings.burst }, (_, i) =>
    userIdOf(settings.users + settings.fresh + i),
  );
  const gateway: Gateway = { url: quotagate.url, token: serviceToken, model: MODEL };
  const tenant = await configure(new AdminClient(quotagate.url, adminToken), [
    ...historyIds,
    ...freshIds,
    ...burstIds,
  ]);
  const shape: LedgerShape = {
    users: settings.users,
    heavy: settings.heavy,
    heavyRows: settings.heavyRows,
    model: MODEL,
    modelGroupId: tenant.modelGroupId,
    templateUser: userIdOf(0),
    templateBuckets: [],
  };
  // Every generated row names every bucket, also the untimed ones (same keys when put again).
  const deleteUntimed = await tenant.putUntimed();
  shape.templateBuckets = await templateBuckets(gateway, db, shape.templateUser);
  await deleteUntimed();
  const heavyIds = historyIds.slice(0, settings.heavy);
  const lightIds = spread(settings.heavy, settings.users, settings.lightSamples);

  const figures: SizeFigures[] = [];
  let rows = 0;
  for (const size of settings.sizes) {
    log(`generating ledger rows ${rows}..${size}`);
    const started = performance.now();
    await generateRows(db, shape, rows, size);
    await rebuildRollups(db);
    const seedSeconds = (performance.now() - started) / 1000;
    rows = size;
    log(`${size} rows in ${seedSeconds.toFixed(1)} s; cold decisions`);
    await flush();
    const { heavy, light, fresh } = await coldDecisions(gateway, {
      heavy: heavyIds,
      light: lightIds,
      fresh: freshIds,
    });
    await flush();
    const deleteAgain = await tenant.putUntimed();
    await verifyTotals(gateway, db, [...heavyIds.slice(0, 3), ...lightIds.slice(0, 3)]);
    await deleteAgain();
    await flush();
    const everyone = [...historyIds, ...freshIds];
    const warm = await warmEveryone(gateway, everyone, settings.warmConcurrency);
    figures.push({ rows: size, seedSeconds, heavy, light, fresh, warm, warmUsers: everyone.length });
  }
  const burst = await burstProfile(gateway, db, shape, tenant, flush, burstIds, lightIds, settings);
  const { table, met } = render(figures, settings, burst);
  process.stdout.write(
    [
      '',
      'quotagate recovery benchmark: npm run bench:recovery',
      ...machine('fetch from the orchestrator process').map((l) => `  ${l}`),
      `  PostgreSQL ${world.pgVersion}, Redis ${world.redisVersion}; quotagate: node dist/server.js, NODE_ENV=production`,
      `  settings: ${describeRecoverySettings(settings)}`,
      `  burst profile (after the last size): ${settings.burst} users × ${settings.burstRows.toLocaleString('en-US')} settles, ${BURST_IN_LAST_MINUTE * 100}% inside the last minute and the rest inside the hour before (every row in the current slice of every window and in the 15-minute late-apply window); their cold decisions interleaved with the light users', lifetime totals then checked against the ledger`,
      `  fixture: ${settings.heavy} heavy users × ${settings.heavyRows} settles, the other rows over ${settings.users - settings.heavy} light users, ${settings.fresh} users with no history; rows spread over 90 days; 5 cost buckets per decision (5h and 30d rolling, daily and monthly calendar, total); then, with a lifetime requests limit added, the lifetime cost and request counts of 3 heavy and 3 light users are checked against the ledger after a cold rebuild (a requests bucket is left out of the timings: its rebuild first waits WRITE_BEHIND_SETTLE_MS = 250 ms for other instances' write-behind, the same for every user)`,
      "  cold decision: the first /check after the run's Redis keys were deleted, one at a time, heavy, light and new users interleaved (a rebuild from PostgreSQL, then the decision)",
      '',
      table,
      '',
      `  target: heavy and burst within 2× of light (p50 and p99) at every size: ${met ? 'met' : 'NOT met'}`,
      '',
    ].join('\n'),
  );
  if (!met) process.exitCode = 1;
}

/**
 * Burst users' rows generated now (so most are in the last minute when measured), then the
 * cold decisions of burst and light users interleaved, then their lifetime totals checked.
 */
async function burstProfile(
  gateway: Gateway,
  db: pg.Client,
  shape: LedgerShape,
  tenant: Tenant,
  flush: () => Promise<number>,
  burstIds: string[],
  lightIds: string[],
  settings: RecoverySettings,
): Promise<BurstFigures> {
  log(`burst profile: ${burstIds.length} users × ${settings.burstRows} rows`);
  await generateBurst(db, shape, {
    userIds: burstIds,
    rows: settings.burstRows,
    inLastMinute: BURST_IN_LAST_MINUTE,
  });
  await flush();
  // A rebuild slower than the decision's budget answers by FAIL_MODE: counted, not fatal.
  const { burst, light } = await coldDecisions(gateway, { burst: burstIds, light: lightIds }, true);
  await flush();
  const deleteAgain = await tenant.putUntimed();
  await verifyTotals(gateway, db, burstIds.slice(0, 3));
  await deleteAgain();
  await flush();
  return { rows: settings.burstRows, burst, light };
}

function render(
  figures: SizeFigures[],
  settings: RecoverySettings,
  burst: BurstFigures,
): { table: string; met: boolean } {
  const ms = (n: number) => n.toFixed(1);
  const ratio = (f: SizeFigures, q: 'p50' | 'p99') => f.heavy[q] / f.light[q];
  const lines: [string, (f: SizeFigures) => string][] = [
    ['ledger rows', (f) => f.rows.toLocaleString('en-US')],
    ['generated in (rows + rollups), s', (f) => f.seedSeconds.toFixed(1)],
    [
      `heavy (${settings.heavyRows.toLocaleString('en-US')} rows) p50 / p99 ms`,
      (f) => `${ms(f.heavy.p50)} / ${ms(f.heavy.p99)}`,
    ],
    ['light p50 / p99 ms', (f) => `${ms(f.light.p50)} / ${ms(f.light.p99)}`],
    ['no history p50 / p99 ms', (f) => `${ms(f.fresh.p50)} / ${ms(f.fresh.p99)}`],
    ['heavy ÷ light p50 / p99', (f) => `${ratio(f, 'p50').toFixed(2)}× / ${ratio(f, 'p99').toFixed(2)}×`],
    [
      `all users warm (${settings.warmConcurrency} in flight), s`,
      (f) =>
        `${f.warm.seconds.toFixed(1)} (${f.warmUsers.toLocaleString('en-US')} users, ${Math.round(f.warmUsers / f.warm.seconds)}/s)`,
    ],
    ['answers failed open while warming (asked again)', (f) => String(f.warm.failedOpen)],
  ];
  const header = `| | ${figures.map((f) => `${f.rows.toLocaleString('en-US')} rows`).join(' | ')} |`;
  const rule = `|:--|${figures.map(() => '--:').join('|')}|`;
  const body = lines.slice(1).map(([name, cell]) => `| ${name} | ${figures.map(cell).join(' | ')} |`);
  const burstRatio = (q: 'p50' | 'p99') => burst.burst[q] / burst.light[q];
  const burstLines = [
    '',
    `| burst profile (on the last ledger) | |`,
    '|:--|--:|',
    `| burst (${burst.rows.toLocaleString('en-US')} rows, ${BURST_IN_LAST_MINUTE * 100}% in the last minute) p50 / p99 ms | ${ms(burst.burst.p50)} / ${ms(burst.burst.p99)} |`,
    `| light p50 / p99 ms | ${ms(burst.light.p50)} / ${ms(burst.light.p99)} |`,
    `| burst ÷ light p50 / p99 | ${burstRatio('p50').toFixed(2)}× / ${burstRatio('p99').toFixed(2)}× |`,
    `| cold decisions failed open (rebuild too slow): burst / light | ${burst.burst.failedOpen ?? 0} / ${burst.light.failedOpen ?? 0} |`,
  ];
  const met =
    figures.every((f) => ratio(f, 'p50') <= 2 && ratio(f, 'p99') <= 2) &&
    burstRatio('p50') <= 2 &&
    burstRatio('p99') <= 2 &&
    burst.burst.failedOpen === 0;
  return { table: [header, rule, ...body, ...burstLines].join('\n'), met };
}

runBench((cleanup) => recovery(loadRecoverySettings(), cleanup));
