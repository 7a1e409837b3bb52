/**
 * Benchmark settings, all from BENCH_* variables so a run can be repeated exactly; the
 * report prints them beside the figures.
 */
export interface BenchSettings {
  /** Server-level PostgreSQL URL: the bench creates (and drops) its own database on it. */
  databaseUrl: string;
  redisUrl: string;
  /** Measured seconds per scenario. */
  seconds: number;
  /** Unmeasured seconds before each scenario: JIT, connection pools, Redis script cache. */
  warmupSeconds: number;
  /**
   * Turns the ratio rows (baseline, peers, floor, /check) take: each runs seconds ÷ rounds
   * per turn, so a drift of the host's speed within the run falls on all of them alike.
   */
  rounds: number;
  /** Connections of the closed-loop runs; the saturation probe uses twice as many. */
  connections: number;
  users: number;
  /** Staggered autocannon instances of the paced (half-saturation) run; see load.ts. */
  pacedInstances: number;
  /** Extra node flags for the quotagate process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  nodeArgs: string[];
  /** false: reuse dist/ as it is (set BENCH_SKIP_BUILD=1 when it is known fresh). */
  build: boolean;
}

function int(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return value;
}

export function loadSettings(): BenchSettings {
  return {
    databaseUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    seconds: int('BENCH_SECONDS', 10, 1, 600),
    warmupSeconds: int('BENCH_WARMUP_SECONDS', 2, 0, 60),
    rounds: int('BENCH_ROUNDS', 5, 1, 60),
    connections: int('BENCH_CONNECTIONS', 32, 1, 1024),
    users: int('BENCH_USERS', 1000, 1, 100_000),
    pacedInstances: int('BENCH_PACED_INSTANCES', 20, 1, 200),
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    build: !['1', 'true', 'yes'].includes(process.env.BENCH_SKIP_BUILD ?? ''),
  };
}

/** The settings as `NAME=value` pairs, for the report (passwords masked). */
export function describeSettings(s: BenchSettings): string[] {
  const bare = (url: string) => {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  };
  return [
    `BENCH_SECONDS=${s.seconds}`,
    `BENCH_WARMUP_SECONDS=${s.warmupSeconds}`,
    `BENCH_ROUNDS=${s.rounds}`,
    `BENCH_CONNECTIONS=${s.connections}`,
    `BENCH_USERS=${s.users}`,
    `BENCH_PACED_INSTANCES=${s.pacedInstances}`,
    ...(s.nodeArgs.length > 0 ? [`BENCH_NODE_ARGS="${s.nodeArgs.join(' ')}"`] : []),
    `BENCH_DATABASE_URL=${bare(s.databaseUrl)}`,
    `BENCH_REDIS_URL=${bare(s.redisUrl)}`,
  ];
}
