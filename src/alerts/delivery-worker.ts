import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/client.js';
import type { Metrics } from '../ops/metrics.js';
import {
  claimDue,
  failExpired,
  recordOutcome,
  type AttemptOutcome,
  type ClaimedDelivery,
} from './delivery-rows.js';
import type { HostPolicy } from './allowed-hosts.js';
import { onEnqueued } from './outbox.js';
import { nextAttemptAt, retryWindowMs } from './retry-schedule.js';
import { signedHeaders } from './signing.js';

export interface DeliveryWorkerOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  metrics?: Pick<Metrics, 'webhookDeliveries' | 'webhookDeliveryLag'>;
  /** WEBHOOK_TIMEOUT_MS: a 2xx within it is a success. */
  timeoutMs: number;
  /** WEBHOOK_RETRY_HOURS: retried this long after the event was created, then failed. */
  retryHours: number;
  /** WEBHOOK_ALLOWED_HOSTS: an attempt to a host it refuses fails without a request. */
  hosts?: HostPolicy;
  /** Poll interval bounds (a random pick in between, so instances do not poll in step). */
  pollMs?: [number, number];
  /** Deliveries claimed per statement, and at most in flight at once per instance. */
  batchSize?: number;
  maxInFlight?: number;
}

/** Added to the timeout in a claim's lease: the outcome write must land before the lease lapses. */
const LEASE_MARGIN_MS = 5_000;
/** A kick may arrive before the enqueuing transaction commits: look once more shortly after. */
const FOLLOW_UP_MS = 25;
/** How long stop() lets attempts in flight finish before aborting them. */
const STOP_GRACE_MS = 3_000;
const EXPIRE_EVERY_MS = 5_000;
const ERROR_TEXT_MAX = 300;
const MAX_WAKEUPS = 1_000;

/**
 * Sends the outbox (SPEC §5.1), at least once, from any instance. A pass claims due
 * deliveries (a lease, see claimDue) and starts their attempts without waiting for them, so
 * a slow receiver holds only its own slots; passes run on a poll timer and on every enqueue
 * in this process. Nothing here runs on a decision's or a settle's path.
 */
export class DeliveryWorker {
  private readonly inFlight = new Set<Promise<void>>();
  private aborts = new AbortController();
  private readonly windowMs: number;
  private readonly pollMs: [number, number];
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private followUp: NodeJS.Timeout | undefined;
  /** Due times of retries this instance scheduled, ascending (the poll covers any beyond the cap). */
  private readonly wakeups: number[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | null = null;
  private passAgain = false;
  private stopped = true;
  private unsubscribe: (() => void) | null = null;
  private lastExpiry = 0;
  private databaseFailing = false;
  /** A pass found every slot taken: the next finished attempt kicks one. */
  private starved = false;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.windowMs = retryWindowMs(options.retryHours);
    this.pollMs = options.pollMs ?? [250, 500];
    this.batchSize = options.batchSize ?? 10;
    this.maxInFlight = options.maxInFlight ?? 32;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.aborts = new AbortController();
    this.unsubscribe = onEnqueued(() => this.kickSoon());
    this.schedulePoll();
    this.kick();
  }

  /** Stops claiming, lets attempts in flight finish (aborting them after a grace) and their outcomes land. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.pollTimer);
    clearTimeout(this.followUp);
    clearTimeout(this.wakeTimer);
    await this.pass;
    const grace = setTimeout(() => this.aborts.abort(), Math.min(STOP_GRACE_MS, this.options.timeoutMs));
    await Promise.allSettled([...this.inFlight]);
    clearTimeout(grace);
  }

  /** Runs a pass now (or right after the one running). */
  kick(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.passAgain = true;
      return;
    }
    this.pass = this.runPass().finally(() => {
      this.pass = null;
      if (this.passAgain) {
        this.passAgain = false;
        this.kick();
      }
    });
  }

  private kickSoon(): void {
    this.kick();
    if (this.stopped || this.followUp) return;
    this.followUp = setTimeout(() => {
      this.followUp = undefined;
      this.kick();
    }, FOLLOW_UP_MS);
    this.followUp.unref();
  }

  /** Remembers a retry's due time, so a pass runs then rather than at the next poll after it. */
  private kickAt(at: number): void {
    if (this.stopped) return;
    const wake = this.wakeups;
    if (wake.length >= MAX_WAKEUPS && at >= wake[wake.length - 1]!) return;
    const index = wake.findIndex((w) => w > at);
    wake.splice(index === -1 ? wake.length : index, 0, at);
    if (wake.length > MAX_WAKEUPS) wake.pop();
    if (wake[0] === at) this.armWakeup();
  }

  private armWakeup(): void {
    clearTimeout(this.wakeTimer);
    const next = this.wakeups[0];
    if (next === undefined || this.stopped) return;
    this.wakeTimer = setTimeout(
      () => {
        const now = this.options.clock.now();
        while (this.wakeups.length > 0 && this.wakeups[0]! <= now) this.wakeups.shift();
        this.kick();
        this.armWakeup();
      },
      Math.max(0, next - this.options.clock.now()),
    );
    this.wakeTimer.unref();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    const [min, max] = this.pollMs;
    this.pollTimer = setTimeout(
      () => {
        this.kick();
        this.schedulePoll();
      },
      min + Math.random() * (max - min),
    );
    this.pollTimer.unref();
  }

  private async runPass(): Promise<void> {
    const { db, clock } = this.options;
    try {
      const now = clock.now();
      if (now - this.lastExpiry >= EXPIRE_EVERY_MS) {
        this.lastExpiry = now;
        const expired = await failExpired(db, now, this.windowMs);
        if (expired > 0) this.countOutcome('failed', expired);
      }
      const room = Math.min(this.batchSize, this.maxInFlight - this.inFlight.size);
      if (room <= 0) {
        this.starved = true;
        return;
      }
      const claimed = await claimDue(
        db,
        now,
        room,
        now + this.options.timeoutMs + LEASE_MARGIN_MS,
        this.windowMs,
      );
      this.databaseRecovered();
      for (const claim of claimed) this.track(this.attempt(claim));
      // A full batch means more may be due: claim again without waiting for the poll.
      if (claimed.length === room) this.passAgain = true;
    } catch (err) {
      this.databaseFailed(err);
    }
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt);
    void attempt.finally(() => {
      this.inFlight.delete(attempt);
      if (this.starved) {
        this.starved = false;
        this.kick();
      }
    });
  }

  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const refused = await this.refusal(claim.url);
    const outcome =
      refused === null
        ? await this.send(claim)
        : this.failure(claim, this.options.clock.now(), null, `not sent: ${refused}`);
    await this.record(claim, outcome);
  }

  private async send(claim: ClaimedDelivery): Promise<AttemptOutcome> {
    const { clock, timeoutMs } = this.options;
    const sentAt = clock.now();
    try {
      const response = await fetch(claim.url, {
        method: 'POST',
        headers: { ...signedHeaders(claim.secret, claim.eventId, sentAt, claim.body) },
        body: claim.body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.aborts.signal]),
      });
      await response.body?.cancel().catch(() => undefined);
      return response.status >= 200 && response.status < 300
        ? { kind: 'delivered', statusCode: response.status }
        : this.failure(claim, clock.now(), response.status, `HTTP ${response.status}`);
    } catch (err) {
      return this.failure(claim, clock.now(), null, scrubUrl(this.describe(err), claim.url));
    }
  }

  private failure(
    claim: ClaimedDelivery,
    at: number,
    statusCode: number | null,
    error: string,
  ): AttemptOutcome {
    const next = nextAttemptAt(at, claim.attempt, claim.eventCreatedAt, this.windowMs);
    return next === null
      ? { kind: 'failed', statusCode, error }
      : { kind: 'retry', statusCode, error, nextAttemptAt: next };
  }

  private async record(claim: ClaimedDelivery, outcome: AttemptOutcome): Promise<void> {
    const { db, clock, logger } = this.options;
    const now = clock.now();
    try {
      if (!(await recordOutcome(db, claim, outcome, now))) return;
    } catch (err) {
      // The lease lapses and another attempt follows: at least once, never lost.
      logger.warn(
        { err, ...this.subject(claim) },
        'webhook delivery outcome not recorded; it will be retried',
      );
      return;
    }
    this.countOutcome(outcome.kind === 'retry' ? 'retried' : outcome.kind);
    if (outcome.kind === 'delivered') {
      this.options.metrics?.webhookDeliveryLag.observe((now - claim.eventCreatedAt) / 1000);
      return;
    }
    const fields = { ...this.subject(claim), statusCode: outcome.statusCode, error: outcome.error };
    if (outcome.kind === 'retry') {
      this.kickAt(outcome.nextAttemptAt);
      logger.warn(
        { ...fields, nextAttemptAt: new Date(outcome.nextAttemptAt).toISOString() },
        'webhook delivery failed; will retry',
      );
    } else {
      logger.error(fields, 'webhook delivery failed for good: its retry window has passed');
    }
  }

  /** What a log line may name: ids and the receiver's host, never the secret, the body or the URL's path. */
  private subject(claim: ClaimedDelivery) {
    let host = 'invalid-url';
    try {
      host = new URL(claim.url).host;
    } catch {
      // Stored URLs were validated; a bad one is reported as such.
    }
    return { webhookId: claim.webhookId, eventId: claim.eventId, attempt: claim.attempt, host };
  }

  /** Why no request may go to `url`: credentials in it (rows from before they were refused), or the allow-list. */
  private async refusal(url: string): Promise<string | null> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return 'the webhook url is not a valid URL';
    }
    if (target.username !== '' || target.password !== '')
      return 'the webhook url contains a user name or password; change its url';
    try {
      return (await this.options.hosts?.refusal(target)) ?? null;
    } catch (err) {
      // An attempt must settle with an outcome, never reject (it is tracked, not awaited).
      return `the host check failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private describe(err: unknown): string {
    if (err instanceof Error && err.name === 'TimeoutError')
      return `no answer within ${this.options.timeoutMs} ms`;
    if (err instanceof Error && err.name === 'AbortError') return 'aborted: the instance was shutting down';
    const cause =
      err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
    return cause?.message ?? cause?.code ?? (err instanceof Error ? err.message : String(err));
  }

  private countOutcome(outcome: 'delivered' | 'retried' | 'failed', n = 1): void {
    this.options.metrics?.webhookDeliveries.inc({ outcome }, n);
  }

  private databaseFailed(err: unknown): void {
    if (this.databaseFailing) return;
    this.databaseFailing = true;
    this.options.logger.warn({ err }, 'webhook outbox unreachable; deliveries wait until PostgreSQL answers');
  }

  private databaseRecovered(): void {
    if (!this.databaseFailing) return;
    this.databaseFailing = false;
    this.options.logger.info('webhook outbox reachable again; deliveries resume');
  }
}

/**
 * An error text as it may be stored and logged: the URL (whose query may carry a token)
 * shortened to origin + path, and any `user:password@` in a URL removed.
 */
export function scrubUrl(text: string, url: string): string {
  let shown = 'the webhook url';
  try {
    const parsed = new URL(url);
    shown = `${parsed.origin}${parsed.pathname}`;
  } catch {
    // An unparsable URL is not shown at all.
  }
  const scrubbed = text
    .split(url)
    .join(shown)
    .replace(/\/\/[^\s/?#@]*@/g, '//');
  return scrubbed.slice(0, ERROR_TEXT_MAX);
}
