/** `npm run bench:recovery` settings, all from RECOVERY_* variables (printed with the table). */
export interface RecoverySettings {
  databaseUrl: string;
  redisUrl: string;
  /** Users with history; `heavy` of them hold `heavyRows` rows each, the rest share the remainder. */
  users: number;
  heavy: number;
  heavyRows: number;
  /** Users with limits and no history at all. */
  fresh: number;
  /** Burst profile: users whose `burstRows` rows each all lie in the last hour, most in the last minute. */
  burst: number;
  burstRows: number;
  /** Ledger sizes (rows), measured one after the other by growing one ledger. */
  sizes: number[];
  /** Light users sampled for cold decisions. */
  lightSamples: number;
  /** Concurrent /check calls while warming every user. */
  warmConcurrency: number;
  build: boolean;
}

function int(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return value;
}

export function loadRecoverySettings(): RecoverySettings {
  const sizes = (process.env.RECOVERY_ROWS || '1000000,5000000').split(',').map((s) => Number(s.trim()));
  const settings: RecoverySettings = {
    databaseUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    users: int('RECOVERY_USERS', 10_000, 2),
    heavy: int('RECOVERY_HEAVY', 10, 1),
    heavyRows: int('RECOVERY_HEAVY_ROWS', 60_000, 1),
    fresh: int('RECOVERY_FRESH', 100, 1),
    burst: int('RECOVERY_BURST', 5, 1),
    burstRows: int('RECOVERY_BURST_ROWS', 60_000, 1),
    sizes,
    lightSamples: int('RECOVERY_LIGHT_SAMPLES', 200, 1),
    warmConcurrency: int('RECOVERY_WARM_CONCURRENCY', 32, 1),
    build: !['1', 'true', 'yes'].includes(process.env.BENCH_SKIP_BUILD ?? ''),
  };
  const floor = settings.heavy * settings.heavyRows + (settings.users - settings.heavy);
  if (
    sizes.some((n) => !Number.isInteger(n) || n < floor) ||
    sizes.some((n, i) => i > 0 && n <= (sizes[i - 1] ?? 0))
  )
    throw new Error(
      `RECOVERY_ROWS must be ascending integers ≥ ${floor} (heavy rows + one row per light user)`,
    );
  if (settings.heavy >= settings.users) throw new Error('RECOVERY_HEAVY must be below RECOVERY_USERS');
  return settings;
}

export function describeRecoverySettings(s: RecoverySettings): string {
  return [
    `RECOVERY_USERS=${s.users}`,
    `RECOVERY_HEAVY=${s.heavy}`,
    `RECOVERY_HEAVY_ROWS=${s.heavyRows}`,
    `RECOVERY_FRESH=${s.fresh}`,
    `RECOVERY_BURST=${s.burst}`,
    `RECOVERY_BURST_ROWS=${s.burstRows}`,
    `RECOVERY_ROWS=${s.sizes.join(',')}`,
    `RECOVERY_LIGHT_SAMPLES=${s.lightSamples}`,
    `RECOVERY_WARM_CONCURRENCY=${s.warmConcurrency}`,
  ].join(' ');
}
