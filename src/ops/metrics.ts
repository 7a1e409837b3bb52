import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per app instance (tests build many apps in one process): process defaults,
 * HTTP durations, and what an operator alerts on — decision outcomes and latency, store
 * errors and timeouts, fail-opens, config freshness, settle batching, cold rebuilds, open holds.
 */
export type Outcome = 'allowed' | 'refused' | 'fail_open' | 'rejected' | 'error';

/**
 * A 4xx other than a refusal is the caller's mistake (`rejected`); `error` is only what an
 * operator must act on: a 5xx (a store down or misconfigured, a bug).
 */
export function decisionOutcome(status: number, failedOpen: boolean): Outcome {
  if (status === 429) return 'refused';
  if (status >= 500) return 'error';
  if (status >= 400) return 'rejected';
  return failedOpen ? 'fail_open' : 'allowed';
}

/** Read at scrape time; bound once the app has built what they read. */
export interface GaugeSources {
  configVersion(): number;
  snapshotLoadedAt(): number;
  now(): number;
  openHolds(now: number): Promise<number>;
}

export function createMetrics() {
  const registry = new Registry();
  let sources: GaugeSources | null = null;
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'quotagate_' });
  const latency = [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
  return {
    registry,
    httpDuration: new Histogram({
      name: 'quotagate_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: latency,
      registers,
    }),
    decisions: new Counter({
      name: 'quotagate_decisions_total',
      help: 'Decision endpoint answers by endpoint and outcome (allowed, refused, fail_open, rejected: 4xx, error: 5xx)',
      labelNames: ['endpoint', 'outcome'] as const,
      registers,
    }),
    decisionDuration: new Histogram({
      name: 'quotagate_decision_duration_seconds',
      help: 'Time to answer a decision endpoint, by endpoint',
      labelNames: ['endpoint'] as const,
      buckets: latency,
      registers,
    }),
    storeErrors: new Counter({
      name: 'quotagate_store_errors_total',
      help: 'Failed calls to Redis or PostgreSQL by store and reason (timeout, unavailable, misconfigured)',
      labelNames: ['store', 'reason'] as const,
      registers,
    }),
    failOpen: new Counter({
      name: 'quotagate_fail_open_total',
      help: 'Decisions admitted without the counter store (FAIL_MODE=open)',
      registers,
    }),
    shadowRefusals: new Counter({
      name: 'quotagate_shadow_refusals_total',
      help: 'Decisions a shadow bucket would have refused (SPEC §4.8), by endpoint',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    rebuilds: new Counter({
      name: 'quotagate_cold_rebuilds_total',
      help: 'Cold buckets of subjects with history rebuilt from PostgreSQL before a decision (new subjects apart)',
      registers,
    }),
    newSubjects: new Counter({
      name: 'quotagate_new_subjects_total',
      help: 'Subjects met cold with nothing in Redis or PostgreSQL (new users): seeded empty, not rebuilt',
      registers,
    }),
    rebuildWaits: new Counter({
      name: 'quotagate_rebuild_waits_total',
      help: 'Rebuilds that first waited for every instance’s write-behind, by reason (loss: Redis lost data lately; mark: a dirty mark; known_subject: a new bucket of a subject Redis knows)',
      labelNames: ['reason'] as const,
      registers,
    }),
    settleBatchSize: new Histogram({
      name: 'quotagate_settle_batch_size',
      help: 'Ledger rows committed per transaction (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers,
    }),
    settleCommit: new Histogram({
      name: 'quotagate_settle_commit_seconds',
      help: 'Time to commit one ledger batch',
      buckets: latency,
      registers,
    }),
    refusedRows: new Counter({
      name: 'quotagate_refused_rows_total',
      help: 'Rows PostgreSQL refused (their values, e.g. a NUL in text), set aside and never retried, by table',
      labelNames: ['table'] as const,
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'quotagate_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, retried: failed and will retry, failed: given up)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookDeliveryLag: new Histogram({
      name: 'quotagate_webhook_delivery_lag_seconds',
      help: 'From an event entering the outbox to its successful delivery',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600],
      registers,
    }),
    configVersion: new Gauge({
      name: 'quotagate_config_version',
      help: 'Config version this instance serves',
      registers,
      collect() {
        if (sources) this.set(sources.configVersion());
      },
    }),
    snapshotAge: new Gauge({
      name: 'quotagate_config_snapshot_age_seconds',
      help: 'Seconds since this instance last loaded its config snapshot',
      registers,
      collect() {
        if (sources) this.set((sources.now() - sources.snapshotLoadedAt()) / 1000);
      },
    }),
    openHolds: new Gauge({
      name: 'quotagate_open_holds',
      help: 'Reservations currently held (not settled, released or expired), across instances',
      registers,
      async collect() {
        if (sources) this.set(await sources.openHolds(sources.now()).catch(() => NaN));
      },
    }),
    bindSources(bound: GaugeSources): void {
      sources = bound;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
