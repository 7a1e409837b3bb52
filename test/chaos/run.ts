/**
 * `npm run chaos` — the fault-injection checker (a VOPR / Jepsen-style model checker).
 *
 *   npm run chaos                          one random seed (printed)
 *   npm run chaos -- --seed 42             replay one seed
 *   npm run chaos -- --seeds 1,2,3         several
 *   npm run chaos -- --minutes 30          new seeds until the time is up
 *   --ops N (per seed, default 150)  --users N (4)  --instances N (3)
 *   --faults flushall=3,pg-stop=0,…        fault weights (see faults.ts; 0 disables)
 *   --op-weights reserve-burst=20,…        operation weights (workload.ts DEFAULT_OP_WEIGHTS)
 *   --redis-cluster                        a private Redis Cluster (3 masters + 3 replicas), with
 *                                          master failovers among the faults
 *   --restart-during-redis-outage          also restart an instance while Redis is down
 *   --strict-lapsed                        lapsed reservations keep their request count
 *   --forgive-session-ms N                 the README's write-behind bound (SPEC §4.4: 0)
 *   --skew-ms N                            server clock error the model tolerates (default 1000)
 *   --skew-check-ms N                      server clock error reported as clock-skew (default 50)
 *   --fail-open                            FAIL_MODE=open (fail-open admissions are not judged)
 *   --history-share X                      share of eligible users given old ledger history (0.6; 0: none)
 *   --extend                               schedule POST /extend (the endpoint is not built yet)
 *   --verbose                              outcome counts per operation
 *   --log-file PATH                        the whole operation log of every seed
 *
 * It starts its own redis-server and PostgreSQL (initdb into a temp dir) and 2–3 servers,
 * and kills only those, by PID. The same seed makes the same choices; timing still differs
 * between runs, so a replay re-creates the scenario, not the exact interleaving.
 * Exit code 1 when any violation was found.
 */
import { DEFAULT_OPTIONS, ChaosEnvironment, runChaos, type ChaosOptions } from './chaos.js';
import { CLUSTER_FAULT_WEIGHTS, DEFAULT_FAULT_WEIGHTS, FAULT_KINDS, type FaultKind } from './faults.js';
import { OP_KINDS } from './workload.js';
import { appendFileSync, writeFileSync } from 'node:fs';
import { formatLog, formatSeed, summaryLine } from './report.js';

interface Parsed {
  options: ChaosOptions;
  plan: { seeds: number[] } | { minutes: number; firstSeed: number };
  verbose: boolean;
  logFile: string | null;
}

/** `kind=weight,…` into `weights` (a bare kind: weight 1). */
function setWeights<K extends string>(
  weights: Record<K, number>,
  kinds: readonly K[],
  text: string,
  what: string,
): void {
  for (const pair of text.split(',').filter(Boolean)) {
    const [kind, weight] = pair.split('=');
    if (!kinds.includes(kind as K)) throw new Error(`unknown ${what} ${kind}: ${kinds.join(', ')}`);
    const n = Number(weight ?? 1);
    if (!(n >= 0)) throw new Error(`${what} ${kind}: weight ${weight} is not a number ≥ 0`);
    weights[kind as K] = n;
  }
}

function parse(argv: string[]): Parsed {
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    faultWeights: { ...DEFAULT_OPTIONS.faultWeights },
    opWeights: { ...DEFAULT_OPTIONS.opWeights },
  };
  let seeds: number[] | null = null;
  let minutes: number | null = null;
  let verbose = false;
  let logFile: string | null = null;
  const value = (i: number) => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    return v;
  };
  const int = (text: string, name: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: not a whole number: ${text}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--seed':
        seeds = [int(value(i++), arg)];
        break;
      case '--seeds':
        seeds = value(i++)
          .split(',')
          .filter(Boolean)
          .map((s) => int(s, arg));
        break;
      case '--minutes':
        minutes = Number(value(i++));
        break;
      case '--ops':
        options.ops = int(value(i++), arg);
        break;
      case '--users':
        options.users = Math.max(1, int(value(i++), arg));
        break;
      case '--instances':
        options.instances = Math.max(1, int(value(i++), arg));
        break;
      case '--faults':
        setWeights(options.faultWeights, FAULT_KINDS, value(i++), 'fault');
        break;
      case '--op-weights':
        setWeights(options.opWeights, OP_KINDS, value(i++), 'operation');
        break;
      case '--redis-cluster':
        options.redisCluster = true;
        // Kinds --faults already weighted (before or after this flag) keep their weight.
        for (const [kind, weight] of Object.entries(CLUSTER_FAULT_WEIGHTS) as [FaultKind, number][])
          if (options.faultWeights[kind] === DEFAULT_FAULT_WEIGHTS[kind]) options.faultWeights[kind] = weight;
        break;
      case '--restart-during-redis-outage':
        options.restartDuringRedisOutage = true;
        break;
      case '--strict-lapsed':
        options.strictLapsed = true;
        break;
      case '--forgive-session-ms':
        options.forgiveSessionMs = int(value(i++), arg);
        break;
      case '--skew-ms':
        options.skewMs = int(value(i++), arg);
        break;
      case '--skew-check-ms':
        options.skewCheckMs = int(value(i++), arg);
        break;
      case '--fail-open':
        options.failMode = 'open';
        break;
      case '--history-share': {
        const share = Number(value(i++));
        if (!(share >= 0 && share <= 1)) throw new Error(`${arg}: not a share between 0 and 1`);
        options.historyShare = share;
        break;
      }
      case '--extend':
        options.opWeights.extend = 5;
        break;
      case '--verbose':
        verbose = true;
        break;
      case '--log-file':
        logFile = value(i++);
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  const randomSeed = () => Math.floor(Math.random() * 2 ** 31);
  const plan =
    minutes !== null
      ? { minutes, firstSeed: seeds?.[0] ?? randomSeed() }
      : { seeds: seeds ?? [randomSeed()] };
  return { options, plan, verbose, logFile };
}

async function main(): Promise<number> {
  const { options, plan, verbose, logFile } = parse(process.argv.slice(2));
  if (logFile) writeFileSync(logFile, '');
  console.log(
    'seeds' in plan
      ? `chaos: seeds ${plan.seeds.join(',')}, ${options.ops} operations each`
      : `chaos: ${plan.minutes} minutes from seed ${plan.firstSeed}, ${options.ops} operations each`,
  );
  const env = await ChaosEnvironment.start(options);
  const cleanup = () => env.stopSync();
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  try {
    const reports = await runChaos(env, plan, options, (report) => {
      console.log(formatSeed(report, { verbose }));
      if (logFile) appendFileSync(logFile, formatLog(report));
    });
    console.log(summaryLine(reports));
    return reports.some((r) => r.violations.length > 0) ? 1 : 0;
  } finally {
    await env.stop();
    process.removeListener('exit', cleanup);
    // The instances' own logs, killed ones included: what a violation's server side said.
    if (logFile)
      writeFileSync(
        `${logFile}.servers`,
        env.cluster.logs.map((l) => `==== ${l.name}\n${l.output}`).join('\n'),
      );
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
