import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { benchLog, build, prepareWorld, runBench, type Cleanup } from './harness.js';
import { BUCKET_PARTS, readPart } from '../../src/store/redis/scripts.js';
import { captureDecideCalls } from './replay.js';
import { freePort } from './resources.js';
import { AdminClient, seed, warmUsers } from './seed.js';
import { loadSettings } from './settings.js';
import { SIX_KEYS, sixKeysCall } from './yardstick.js';

/**
 * `npm run bench:script`: where the decide script's Redis time goes, in instructions rather
 * than seconds, so the figures repeat whatever else the host is doing (this host's speed
 * drifts 2× from day to day). It captures the decide calls of a warm /check for
 * BENCH_SCRIPT_USERS users (as the bench's floor row does), copies their keys into a private
 * redis-server run under valgrind's callgrind, and counts the instructions Redis spends
 * inside EVALSHA per call for the whole script and for its prefixes: each phase's cost is the
 * difference between two prefixes. The six-key peer's script is measured the same way.
 */
const log = benchLog('bench:script');

const users = Number(process.env.BENCH_SCRIPT_USERS ?? 100);
const callsPerVariant = Number(process.env.BENCH_SCRIPT_CALLS ?? 500);

interface Variant {
  phase: string;
  source: string;
  /** The script as quotagate runs it: its reply must be a decision. */
  whole?: boolean;
}

/** decide.lua cut after a statement: the script up to there, answering 1. */
function upTo(decide: string, statement: string): string {
  const at = decide.indexOf(statement);
  if (at < 0) throw new Error(`decide.lua no longer contains \`${statement}\`: update script-cost.ts`);
  return `${decide.slice(0, at + statement.length)}\nreturn 1\n`;
}

function decideVariants(): Variant[] {
  const helpers = BUCKET_PARTS.map(readPart).join('\n') + '\n';
  const decide = readPart('decide');
  return [
    { phase: 'EVALSHA with /check’s keys and arguments, empty script', source: 'return 1' },
    { phase: 'helper functions defined (lib, layout, usage, holds, buckets)', source: `${helpers}return 1` },
    {
      phase: 'shared head and estimates read',
      source: helpers + upTo(decide, 'local EXPIRES = NOW + tonumber(ARGV[12])'),
    },
    {
      phase: 'six bucket arguments parsed into tables',
      source: helpers + upTo(decide, 'local buckets = read_buckets(16)'),
    },
    { phase: 'warm flags checked (HMGET, PEXPIRE)', source: helpers + upTo(decide, 'refresh_warmth()') },
    {
      phase: 'buckets read and judged (15 commands)',
      source: helpers + upTo(decide, 'admitted = false\n  end\nend'),
    },
    { phase: 'reply built and returned: the whole script', source: helpers + decide, whole: true },
  ];
}

/**
 * Instructions inside evalShaCommand per call, for one script on a fresh callgrind'd Redis;
 * `calls` are EVALSHA's arguments after the sha (numkeys, keys, args).
 */
async function instructionsPerCall(
  source: string,
  calls: string[][],
  keys: [string, Buffer][],
  cleanup: Cleanup,
): Promise<{ perCall: number; reply: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'qg-bench-script-'));
  cleanup.add(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'callgrind.out');
  const port = await freePort();
  const server = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--collect-atstart=no',
      '--toggle-collect=evalShaCommand',
      `--callgrind-out-file=${out}`,
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  cleanup.add(`stop callgrind redis-server ${server.pid}`, async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });
  const redis = await connectWhenUp(port);
  let reply: unknown;
  try {
    for (const [key, dump] of keys) await redis.call('RESTORE', key, '0', dump, 'REPLACE');
    const sha = String(await redis.call('SCRIPT', 'LOAD', source));
    for (let i = 0; i < callsPerVariant; i++) {
      const call = calls[i % calls.length] ?? [];
      const answer = await redis.call('EVALSHA', sha, ...call);
      reply ??= answer;
    }
    await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
  } finally {
    redis.disconnect();
  }
  await exited;
  const totals = execFileSync('callgrind_annotate', [out]).toString();
  const ir = Number(/([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/.exec(totals)?.[1]?.replace(/,/g, '') ?? NaN);
  if (!Number.isFinite(ir) || ir === 0)
    throw new Error(
      'callgrind counted nothing inside evalShaCommand: is redis-server built with its symbols exported?',
    );
  return { perCall: ir / callsPerVariant, reply };
}

async function connectWhenUp(port: number): Promise<Redis> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const redis = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return redis;
    } catch (err) {
      redis.disconnect();
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

function requireTools(): void {
  for (const tool of ['valgrind', 'callgrind_annotate', 'redis-server'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is not installed (Debian: apt-get install valgrind redis-server)`);
}

/** The captured calls and a copy of every key they name (DUMP, to RESTORE on the private server). */
async function capture(
  cleanup: Cleanup,
): Promise<{ calls: string[][]; keys: [string, Buffer][]; sixKeys: string[][] }> {
  const settings = { ...loadSettings(), users };
  if (settings.build) build();
  const world = await prepareWorld('script', settings, cleanup);
  const quotagate = await world.startQuotagate();
  await seed(new AdminClient(quotagate.url, world.adminToken), users);
  await warmUsers(quotagate.url, world.serviceToken, users);
  const { fixture } = await captureDecideCalls({
    redisUrl: settings.redisUrl,
    prefix: world.prefix,
    quotagateUrl: quotagate.url,
    token: world.serviceToken,
    users,
    cleanup,
  });
  // ['evalsha', sha, numkeys, ...]: the arguments after the sha.
  const calls = Object.values(fixture.calls).map((call) => call.slice(2));
  const redis = new Redis(settings.redisUrl);
  const keys: [string, Buffer][] = [];
  try {
    for (const call of calls)
      for (const key of call.slice(1, 1 + Number(call[0]))) {
        const dump = await redis.dumpBuffer(key);
        if (dump) keys.push([key, dump]);
      }
  } finally {
    redis.disconnect();
  }
  const sixKeys = Object.keys(fixture.calls).map((user) => ['6', ...sixKeysCall(world.prefix, user)]);
  log(`captured ${calls.length} decide calls and ${keys.length} keys`);
  return { calls, keys, sixKeys };
}

async function scriptCost(cleanup: Cleanup): Promise<void> {
  requireTools();
  const { calls, keys, sixKeys } = await capture(cleanup);
  const figures: { phase: string; cumulative: number; delta: number }[] = [];
  for (const variant of decideVariants()) {
    log(`callgrind: ${variant.phase}`);
    const { perCall, reply } = await instructionsPerCall(variant.source, calls, keys, cleanup);
    if (variant.whole === true && !(Array.isArray(reply) && reply[0] === 'decided'))
      throw new Error(
        `the whole script did not decide (warm keys missing?): ${JSON.stringify(reply).slice(0, 200)}`,
      );
    figures.push({
      phase: variant.phase,
      cumulative: perCall,
      delta: perCall - (figures.at(-1)?.cumulative ?? 0),
    });
  }
  const whole = figures.at(-1)?.cumulative ?? NaN;
  log('callgrind: six-key peer script');
  const six = await instructionsPerCall(SIX_KEYS, sixKeys, [], cleanup);
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  const rows = [
    '| phase of a warm /check’s decide call | Ir up to here | Ir of the phase | share |',
    '|:--|--:|--:|--:|',
  ];
  for (const f of figures)
    rows.push(
      `| ${f.phase} | ${k(f.cumulative)} | ${k(f.delta)} | ${((100 * f.delta) / whole).toFixed(0)} % |`,
    );
  rows.push(
    `| six-key peer’s script (6 INCR, 6 keys, 1 argument), for scale | ${k(six.perCall)} | | ${(six.perCall / whole).toFixed(2)}× |`,
  );
  process.stdout.write(
    [
      '',
      'decide script cost: npm run bench:script',
      `  ${calls.length} users' captured decide calls (6 buckets, warm, dry run), ${callsPerVariant} calls per variant on a private redis-server under callgrind`,
      '  Ir: instructions Redis executed inside evalShaCommand (the script, its nested commands, the reply), per call; deterministic for the same binary and calls',
      '  each row is decide.lua cut after that phase (answering 1); a phase costs the difference from the row above',
      '',
      ...rows,
      '',
    ].join('\n'),
  );
}

runBench((cleanup) => scriptCost(cleanup));
