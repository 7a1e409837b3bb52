import {
  benchLog,
  build,
  machine,
  prepareWorld,
  runBench,
  type BenchWorld,
  type Cleanup,
} from './harness.js';
import { closedLoop, overallRate, paced, type RequestsFactory, type RunFigures } from './load.js';
import { CpuTally, measureInTurns } from './measure.js';
import type { ServerProcess } from './processes.js';
import { buildRows, renderTable, stepOf, type BenchRuns, type MeasuredRun } from './report.js';
import { captureDecideCalls } from './replay.js';
import { freePort } from './resources.js';
import {
  baseline,
  check,
  peer,
  reserveThenSettle,
  settleAlone,
  tokenCheck,
  type ScenarioTarget,
} from './scenarios.js';
import { AdminClient, BUCKETS_PER_REQUEST, seed, TOKEN_MODEL, warmUsers } from './seed.js';
import { measureWebhookLatency } from './webhook-latency.js';
import { configureSignups, measureNewUsers, renderNewUsers } from './new-users.js';
import { describeSettings, loadSettings, type BenchSettings } from './settings.js';

/**
 * `npm run bench`: quotagate (built JS, its own process) against real PostgreSQL and Redis,
 * beside a bare Fastify + one-EVALSHA baseline measured in the same run. Prints a table;
 * writes nothing. Everything it creates (processes, database, Redis keys) is removed at
 * the end, also when a step fails or the run is interrupted.
 */
const TARGETS = {
  checkRatio: 0.9,
  sixKeysRatio: 0.65,
  rlfRatio: 1.5,
  settlePerSecond: 3_000,
  halfSaturationP99Ms: 3,
};

const log = benchLog('bench');

/** `--only new-user`: the new-user rows alone (about half a minute). */
const only = (() => {
  const at = process.argv.indexOf('--only');
  if (at === -1) return null;
  const row = process.argv[at + 1];
  if (row !== 'new-user') throw new Error(`--only takes one row name: new-user (got ${String(row)})`);
  return row;
})();
/** New users measured per store: each one's first decision and a warm one. */
const NEW_USERS = 200;

/**
 * The first decision of new users on both stores: the quotagate under test (Redis), then one
 * more process on the same database with the in-process store (no REDIS_URL).
 */
async function newUserRows(world: BenchWorld, quotagate: ServerProcess, nodeArgs: string[]): Promise<string> {
  await configureSignups(new AdminClient(quotagate.url, world.adminToken));
  log(`first decision of ${NEW_USERS} new users, then a warm one each, on Redis`);
  const redis = await measureNewUsers('Redis', quotagate.url, world.serviceToken, NEW_USERS);
  const embedded = await world.start({
    name: 'quotagate (in-process store)',
    args: [...nodeArgs, 'dist/server.js'],
    port: await freePort(),
    readyPath: '/readyz',
    env: {
      NODE_ENV: 'production',
      DATABASE_URL: world.databaseUrl,
      ADMIN_TOKENS: `bench:${world.adminToken}`,
      SERVICE_TOKENS: `gateway:${world.serviceToken}`,
      LOG_LEVEL: 'warn',
    },
  });
  log(`the same on the in-process store (pid ${embedded.pid})`);
  const memory = await measureNewUsers('in-process store', embedded.url, world.serviceToken, NEW_USERS);
  await embedded.stop();
  return renderNewUsers([redis, memory]);
}

async function newUsersOnly(settings: BenchSettings, cleanup: Cleanup): Promise<void> {
  if (settings.build) build();
  const world = await prepareWorld('bench', settings, cleanup);
  const quotagate = await world.startQuotagate(settings.nodeArgs);
  const table = await newUserRows(world, quotagate, settings.nodeArgs);
  const out = [
    '',
    'quotagate benchmark: npm run bench -- --only new-user',
    ...machine('fetch, one request at a time, in the orchestrator process').map((l) => `  ${l}`),
    `  PostgreSQL ${world.pgVersion}, Redis ${world.redisVersion}; quotagate: node dist/server.js, NODE_ENV=production, LOG_LEVEL=warn`,
    `  fixture: ${NEW_USERS} never-seen users per store (after 20 unmeasured), each: /reserve with session s-1 (first decision: cold buckets, rebuilt from PostgreSQL), then /reserve with session s-2 (warm); limits of a user group the request names: cost 5h rolling, cost 8h first_use, sessions 20h, requests 1m`,
    '',
    table,
    '',
  ];
  process.stdout.write(out.join('\n'));
}

async function bench(settings: BenchSettings, cleanup: Cleanup): Promise<void> {
  if (settings.build) build();
  const world = await prepareWorld('bench', settings, cleanup);
  const { adminToken, serviceToken } = world;
  const common = { NODE_ENV: 'production', REDIS_URL: settings.redisUrl, REDIS_KEY_PREFIX: world.prefix };
  const quotagate = await world.startQuotagate(settings.nodeArgs);
  // tsx only compiles the file at start; the route then runs as plain JIT-compiled JS.
  const base = await world.start({
    name: 'baseline',
    args: ['--import', 'tsx', 'test/bench/baseline-server.ts'],
    port: await freePort(),
    readyPath: '/readyz',
    env: common,
  });
  const startPeer = async (name: 'six-keys' | 'rlf' | 'floor', env: Record<string, string> = {}) =>
    world.start({
      name,
      args: ['--import', 'tsx', 'test/bench/peer-server.ts'],
      port: await freePort(),
      readyPath: '/readyz',
      env: { ...common, ...env, PEER: name },
    });
  const sixKeys = await startPeer('six-keys');
  const rlf = await startPeer('rlf');
  log(
    `quotagate pid ${quotagate.pid} at ${quotagate.url}; baseline pid ${base.pid}; six-keys pid ${sixKeys.pid}; rlf pid ${rlf.pid}`,
  );

  const seeded = await seed(new AdminClient(quotagate.url, adminToken), settings.users);
  log(`seeded ${settings.users} users, ${seeded.limits} limits in ${seeded.seedSeconds.toFixed(1)} s`);
  const warmSeconds = await warmUsers(quotagate.url, serviceToken, settings.users);
  await warmUsers(quotagate.url, serviceToken, settings.users, TOKEN_MODEL);
  log(`warmed ${settings.users} users (${BUCKETS_PER_REQUEST} buckets each) in ${warmSeconds.toFixed(1)} s`);
  const { file: replayFile } = await captureDecideCalls({
    redisUrl: settings.redisUrl,
    prefix: world.prefix,
    quotagateUrl: quotagate.url,
    token: serviceToken,
    users: settings.users,
    cleanup,
  });
  const floor = await startPeer('floor', { REPLAY_FILE: replayFile });
  log(`captured ${settings.users} decide calls under MONITOR; floor pid ${floor.pid}`);

  const target: ScenarioTarget = { token: serviceToken, users: settings.users };
  const { seconds, warmupSeconds, connections: c } = settings;

  /** Warm-up (discarded), then the measured run; a dead server fails the run loudly. */
  const measure = async (
    label: string,
    server: ServerProcess,
    requests: RequestsFactory,
    run: (url: string, requests: RequestsFactory, s: number) => Promise<RunFigures>,
  ) => {
    log(`${label}: ${warmupSeconds} s warm-up, ${seconds} s measured`);
    if (warmupSeconds > 0) await run(server.url, requests, warmupSeconds);
    const tally = new CpuTally(server, settings.redisUrl);
    const figures = await tally.during(label, () => run(server.url, requests, seconds));
    log(`${label}: ${Math.round(figures.perSecond)} req/s, p99 ${figures.overall.p99.toFixed(2)} ms`);
    return tally.of(figures);
  };
  const closed = (conns: number) => (url: string, requests: RequestsFactory, s: number) =>
    closedLoop(url, conns, s, requests);

  const { baseRun, sixKeysRun, rlfRun, floorRun, checkRun } = await measureInTurns(
    {
      baseRun: { label: 'baseline', server: base, requests: baseline(target) },
      sixKeysRun: { label: 'six-key EVALSHA peer', server: sixKeys, requests: peer(target) },
      rlfRun: { label: 'rate-limiter-flexible peer', server: rlf, requests: peer(target) },
      floorRun: { label: 'floor: decide script replayed', server: floor, requests: peer(target) },
      checkRun: { label: '/check', server: quotagate, requests: check(target) },
    },
    { connections: c, seconds, warmupSeconds, turns: settings.rounds, redisUrl: settings.redisUrl, log },
  );
  const tokenRun = await measure('/check with token buckets', quotagate, tokenCheck(target), closed(c));
  const flowRun = await measure('/reserve→/settle', quotagate, reserveThenSettle(target), closed(c));
  const settleRun = await measure('/settle', quotagate, settleAlone(target), closed(c));
  const probeRun = await measure(`/check ×${2 * c}`, quotagate, check(target), closed(2 * c));

  const saturation = Math.max(checkRun.perSecond, probeRun.perSecond);
  const half = Math.max(1, Math.round(saturation / 2));
  const pacedRun = await measure(`/check at ${half}/s paced`, quotagate, check(target), (url, requests, s) =>
    paced(url, half, settings.pacedInstances, s, requests),
  );
  const burstRun = await measure(
    `/check at ${half}/s overallRate`,
    quotagate,
    check(target),
    (url, requests, s) => overallRate(url, half, c, s, requests),
  );

  const newUsers = await newUserRows(world, quotagate, settings.nodeArgs);

  log('webhook delivery: 30 threshold crossings, settle answer → receipt');
  const webhook = await measureWebhookLatency(
    quotagate.url,
    new AdminClient(quotagate.url, adminToken),
    serviceToken,
    seeded.modelGroupId,
  );

  const runs: BenchRuns = {
    baseRun,
    sixKeysRun,
    rlfRun,
    floorRun,
    checkRun,
    tokenRun,
    flowRun,
    settleRun,
    probeRun,
    pacedRun,
    burstRun,
  };
  const rows = buildRows(runs, c, TARGETS);
  const checkFig = stepOf(checkRun, '/check');
  const socketErrors = Object.values(runs).reduce((sum, r) => sum + r.socketErrors, 0);
  const machineMicros = (r: MeasuredRun) =>
    r.cpuMicros === null || r.redisMicros === null || r.loadMicros === null
      ? null
      : r.cpuMicros + r.redisMicros + r.loadMicros;
  const [sixAll, rlfAll, floorAll, checkAll] = [
    machineMicros(sixKeysRun),
    machineMicros(rlfRun),
    machineMicros(floorRun),
    machineMicros(checkRun),
  ];
  const budget =
    sixAll === null || rlfAll === null || floorAll === null || checkAll === null
      ? '  machine CPU per response: not measured'
      : `  machine CPU per response (server + Redis + load): six-key peer ${Math.round(sixAll)} µs, rlf peer ${Math.round(rlfAll)} µs, floor ${Math.round(floorAll)} µs, /check ${Math.round(checkAll)} µs; the host is saturated, so req/s goes as 1 / that: ≥ ${TARGETS.sixKeysRatio}× six-key needs /check ≤ ${Math.round(sixAll / TARGETS.sixKeysRatio)} µs, ≥ ${TARGETS.rlfRatio}× rlf ≤ ${Math.round(rlfAll / TARGETS.rlfRatio)} µs`;
  const out = [
    '',
    'quotagate benchmark: npm run bench',
    ...machine('autocannon in the orchestrator process').map((l) => `  ${l}`),
    `  PostgreSQL ${world.pgVersion}, Redis ${world.redisVersion}; quotagate: node dist/server.js, NODE_ENV=production, LOG_LEVEL=warn`,
    `  settings: ${describeSettings(settings).join(' ')}`,
    `  fixture: ${settings.users} users × ${BUCKETS_PER_REQUEST} buckets (user cost 5h rolling, daily, weekly on the model group; key cost daily; user requests/1m; user concurrency)`,
    `  saturation (max of /check at ${c} and ${2 * c} connections): ${Math.round(saturation)} req/s; half: ${half} req/s`,
    '',
    renderTable(rows),
    '',
    newUsers,
    '',
    budget,
    `  webhook delivery (settle answer → receiver, ${webhook.events} threshold crossings one at a time): p50 ${webhook.p50.toFixed(1)} ms, p99 ${webhook.p99.toFixed(1)} ms, max ${webhook.max.toFixed(1)} ms`,
    `  reply sizes: baseline ${Math.round(stepOf(baseRun, '/baseline').bytesPerResponse)} B, /check ${Math.round(checkFig.bytesPerResponse)} B (headers + body)`,
    `  429 is a normal answer (quota refused); "errors" are other non-2xx; socket errors/timeouts: ${socketErrors}`,
    '  latencies: every response timed by autocannon (sub-ms), percentiles computed here; req/s = responses / measured seconds',
    '  ratio: req/s ÷ the baseline row, except the indented "… ÷ …" rows, which divide the row above them by the peer they name in the same run',
    '  peers: six-keys = one EVALSHA INCRing 6 keys of the user (PEXPIRE on first use), 6-number reply; rlf = rate-limiter-flexible RateLimiterUnion of 6 RateLimiterRedis (6 separate calls, not atomic)',
    "  floor = a bare Fastify route replaying, per user, the decide EVALSHA quotagate sent for that user's /check (captured under MONITOR) and answering the body quotagate answered: /check's Redis work and reply with none of quotagate's JavaScript, so floor ÷ a peer is the most /check ÷ that peer can reach with today's script",
    '  server CPU µs/req: user + system time of the server process over the measured seconds, per response',
    '  Redis CPU µs/req: used_cpu_user + used_cpu_sys of the Redis server over the same seconds, per response (every client of that Redis counts);',
    '    load CPU µs/req: this process (autocannon) over the same seconds. On a saturated host the three add up to what one response costs the machine',
    '  paced: the rate split over staggered single-connection autocannon instances; overallRate: one instance, whose per-second bursts queue like saturation',
    '',
  ];
  process.stdout.write(out.join('\n'));
}

runBench((cleanup) => (only ? newUsersOnly(loadSettings(), cleanup) : bench(loadSettings(), cleanup)));
