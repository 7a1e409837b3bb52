import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchLog, build, machine, prepareWorld, runBench, type Cleanup } from './harness.js';
import { closedLoop, type RequestsFactory } from './load.js';
import { CpuTally } from './measure.js';
import { check, reserveThenSettle, settleAlone, tokenCheck, type ScenarioTarget } from './scenarios.js';
import { AdminClient, seed, TOKEN_MODEL, warmUsers } from './seed.js';
import { loadSettings } from './settings.js';

/**
 * `npm run bench:ab`: this tree's build against another commit's, on one database and one
 * Redis prefix, in short alternating turns. This host's speed drifts up to 2x within a
 * minute, so two `npm run bench` runs cannot tell a 10 % change from the weather; two
 * builds measured turn about (their order swapped every turn), each turn's ratio taken
 * between neighbours, can. Neither measured process served the seeding and the warm-up (a
 * third one did): an instance that served the cold rebuilds runs /check 7–10 % slower
 * afterwards (README "Benchmark").
 *
 * BENCH_AB_BASE (default HEAD) is built in a temporary git worktree with this tree's
 * node_modules, so it must share this tree's dependencies and database schema.
 */
const log = benchLog('bench:ab');

interface AbSettings {
  base: string;
  /** Fresh process pairs: a process's JIT can settle 10 % faster or slower than its twin's. */
  pairs: number;
  turns: number;
  turnSeconds: number;
  /** Node flags for this tree's process only: a flag measured against the base without it. */
  headNodeArgs: string[];
  scenario: keyof typeof SCENARIOS;
}

const SCENARIOS = {
  check: (t: ScenarioTarget) => check(t),
  'token-check': (t: ScenarioTarget) => tokenCheck(t),
  'reserve-settle': (t: ScenarioTarget) => reserveThenSettle(t),
  settle: (t: ScenarioTarget) => settleAlone(t),
} satisfies Record<string, (t: ScenarioTarget) => RequestsFactory>;

function abSettings(): AbSettings {
  const int = (name: string, fallback: number) => {
    const value = Number(process.env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 1 || value > 600) throw new Error(`${name} must be 1–600`);
    return value;
  };
  const scenario = process.env.BENCH_AB_SCENARIO ?? 'check';
  if (!(scenario in SCENARIOS))
    throw new Error(`BENCH_AB_SCENARIO must be one of ${Object.keys(SCENARIOS).join(', ')}`);
  return {
    base: process.env.BENCH_AB_BASE || 'HEAD',
    pairs: int('BENCH_AB_PAIRS', 3),
    turns: int('BENCH_AB_TURNS', 15),
    turnSeconds: int('BENCH_AB_TURN_SECONDS', 3),
    headNodeArgs: (process.env.BENCH_AB_HEAD_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    scenario: scenario as AbSettings['scenario'],
  };
}

/** The base commit's server, compiled in a worktree (no console bundle: no route needs it). */
function buildBase(rev: string, cleanup: Cleanup): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qg-ab-'));
  const run = (cmd: string, args: string[], cwd: string) => {
    const result = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}`);
  };
  run('git', ['worktree', 'add', '--detach', dir, rev], process.cwd());
  cleanup.add('remove the base worktree', async () => {
    run('git', ['worktree', 'remove', '--force', dir], process.cwd());
    rmSync(dir, { recursive: true, force: true });
  });
  symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
  log(`building ${rev} in ${dir}`);
  run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], dir);
  run(
    process.execPath,
    ['-e', "require('node:fs').cpSync('src/store/redis/lua','dist/store/redis/lua',{recursive:true})"],
    dir,
  );
  return path.join(dir, 'dist/server.js');
}

interface Turn {
  perSecond: number;
  serverMicros: number | null;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};

async function ab(cleanup: Cleanup): Promise<void> {
  const settings = loadSettings();
  const options = abSettings();
  if (settings.build) build();
  const baseScript = buildBase(options.base, cleanup);
  const world = await prepareWorld('bench', settings, cleanup);
  const warmer = await world.startQuotagate();
  await seed(new AdminClient(warmer.url, world.adminToken), settings.users);
  await warmUsers(warmer.url, world.serviceToken, settings.users);
  await warmUsers(warmer.url, world.serviceToken, settings.users, TOKEN_MODEL);
  await warmer.stop();
  const requests = SCENARIOS[options.scenario]({ token: world.serviceToken, users: settings.users });
  const turns: Record<'base' | 'head', Turn[]> = { base: [], head: [] };
  const c = settings.connections;
  const perPair = Math.ceil(options.turns / options.pairs);
  log(
    `${options.scenario}: ${options.pairs} process pairs × ${perPair} turns of ${options.turnSeconds} s, ${c} connections`,
  );
  for (let pair = 0; pair < options.pairs; pair++) {
    const servers = {
      base: await world.startQuotagate([], baseScript, `base ${options.base}`),
      head: await world.startQuotagate(options.headNodeArgs, 'dist/server.js', 'head (this tree)'),
    };
    for (const side of ['base', 'head'] as const) await closedLoop(servers[side].url, c, 2, requests);
    for (let t = 0; t < perPair; t++) {
      const order = t % 2 === 0 ? (['base', 'head'] as const) : (['head', 'base'] as const);
      for (const side of order) {
        const tally = new CpuTally(servers[side], settings.redisUrl);
        const figures = tally.of(
          await tally.during(side, () => closedLoop(servers[side].url, c, options.turnSeconds, requests)),
        );
        if (figures.overall.failed > 0)
          throw new Error(`${side}: ${figures.overall.failed} failed responses`);
        turns[side].push({ perSecond: figures.perSecond, serverMicros: figures.cpuMicros });
      }
      const [b, h] = [turns.base.at(-1), turns.head.at(-1)];
      log(
        `pair ${pair + 1} turn ${t + 1}: base ${Math.round(b?.perSecond ?? 0)} req/s, head ${Math.round(h?.perSecond ?? 0)} req/s`,
      );
    }
    await Promise.all([servers.base.stop(), servers.head.stop()]);
  }
  process.stdout.write(report(options, settings.connections, turns, perPair).join('\n'));
}

function report(
  options: AbSettings,
  connections: number,
  turns: Record<'base' | 'head', Turn[]>,
  perPair: number,
): string[] {
  const rate = turns.head.map((h, i) => h.perSecond / (turns.base[i]?.perSecond ?? NaN));
  const cpu = turns.head.flatMap((h, i) => {
    const b = turns.base[i]?.serverMicros;
    return h.serverMicros === null || b === null || b === undefined ? [] : [h.serverMicros / b];
  });
  const pairMedians = Array.from({ length: Math.ceil(rate.length / perPair) }, (_, p) =>
    median(rate.slice(p * perPair, (p + 1) * perPair)),
  );
  const rows = turns.head.map((h, i) => {
    const b = turns.base[i];
    const cell = (x: Turn | undefined) =>
      `${Math.round(x?.perSecond ?? 0).toLocaleString('en-US')} req/s, ${x?.serverMicros === null || x === undefined ? '?' : Math.round(x.serverMicros)} µs`;
    return `| ${i + 1} | ${cell(b)} | ${cell(h)} | ${(rate[i] ?? NaN).toFixed(3)}× |`;
  });
  return [
    '',
    `quotagate A/B: npm run bench:ab (base ${options.base} against this tree)`,
    ...machine('autocannon in the orchestrator process').map((l) => `  ${l}`),
    ...(options.headNodeArgs.length > 0 ? [`  head's node flags: ${options.headNodeArgs.join(' ')}`] : []),
    `  scenario ${options.scenario}: ${options.pairs} fresh process pairs, ${turns.head.length} turns × ${options.turnSeconds} s per build in all, ${connections} connections, order swapped every turn`,
    '',
    '| turn | base (req/s, server CPU per response) | head | head ÷ base |',
    '|---:|---:|---:|---:|',
    ...rows,
    '',
    `  head ÷ base req/s: median ${median(rate).toFixed(3)}×, faster in ${rate.filter((r) => r > 1).length} of ${rate.length} turns`,
    `  head ÷ base server CPU per response: median ${median(cpu).toFixed(3)}×`,
    `  head ÷ base req/s per process pair: ${pairMedians.map((m) => `${m.toFixed(3)}×`).join(', ')}`,
    '  one process pair alone can sit 10 % apart (each JIT settles its own way): judge the median over the pairs',
    '',
  ];
}

runBench(ab);
