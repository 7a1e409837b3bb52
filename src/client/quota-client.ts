import { QuotaRequestError, QuotaUnavailableError, type QuotaError } from './errors.js';
import { guard, type GuardCall, type GuardDemand, type GuardOutcome } from './guard.js';
import { asProblem, send, type TransportSettings } from './transport.js';
import type {
  CheckRequest,
  Decision,
  ExtendResult,
  ReleaseResult,
  ReserveRequest,
  SettleRequest,
  SettleResult,
  Usage,
  UsageQuery,
} from './types.js';

/** What the client does when quotagate cannot be reached (after its retries). */
export type FailMode = 'open' | 'closed';

export interface QuotaClientOptions {
  /** e.g. `http://quotagate.internal:8080` (a path prefix is kept). */
  baseUrl: string;
  /** A service token (`SERVICE_TOKENS`). */
  token: string;
  /** Per attempt, covering connect, answer and body. Default 1000. */
  timeoutMs?: number;
  /**
   * `open` (default, as the server's own `FAIL_MODE`): `check`/`reserve` answer an admitting
   * decision with `failOpen: true`, and `guard` runs the call. `closed`: they throw
   * QuotaUnavailableError. Only unreachability counts: a 4xx is always thrown.
   */
  failMode?: FailMode;
  /** Further attempts after the first on network errors, timeouts and 502/503/504. Default 2. */
  retries?: number;
  /** Exponential backoff: first step `baseMs` (default 100), doubling, capped at `maxMs` (default 2000). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Extra headers on every call (tracing, a test clock). */
  headers?: Record<string, string>;
  /** Told of every failure the client absorbs instead of throwing (fail-open, a lost release or settle in `guard`). */
  onError?: (error: QuotaError, operation: string) => void;
  fetch?: typeof fetch;
}

export type UsageParams = Omit<UsageQuery, 'groups'> & { groups?: string | readonly string[] };

const DECISION_STATUSES = [200, 429];

/** A typed client of quotagate's decision endpoints (SPEC §4.2, §7.2). */
export class QuotaClient {
  private readonly settings: TransportSettings;
  private readonly failMode: FailMode;
  private readonly onError: (error: QuotaError, operation: string) => void;

  constructor(options: QuotaClientOptions) {
    new URL(options.baseUrl); // a malformed URL fails here, not at the first decision
    this.settings = {
      baseUrl: options.baseUrl,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 1000,
      retries: Math.max(0, Math.floor(options.retries ?? 2)),
      backoffBaseMs: options.backoff?.baseMs ?? 100,
      backoffMaxMs: options.backoff?.maxMs ?? 2000,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      headers: { 'user-agent': 'quotagate-client', ...options.headers },
    };
    this.failMode = options.failMode ?? 'open';
    this.onError = options.onError ?? (() => undefined);
  }

  /** Dry run: would it pass now? A refusal (429) is an answer, `allowed: false`. */
  check(body: CheckRequest): Promise<Decision> {
    return this.decide('check', body, null);
  }

  /** Admit and hold. A refusal (429) is an answer, `allowed: false`; a retry reuses `requestId`. */
  reserve(body: ReserveRequest): Promise<Decision> {
    return this.decide('reserve', body, body.requestId);
  }

  /** Charges the actual cost and tokens; send userId/model (and keyId) so it lands even if the reservation is gone. */
  settle(body: SettleRequest): Promise<SettleResult> {
    return this.post('settle', body, [200]);
  }

  /** The upstream call did not happen: frees the hold and the concurrency slot. */
  release(requestId: string): Promise<ReleaseResult> {
    return this.post('release', { requestId }, [200]);
  }

  /** Keeps a held reservation alive until now + `ttlSeconds` (≤ 86400). */
  extend(requestId: string, ttlSeconds: number): Promise<ExtendResult> {
    return this.post('extend', { requestId, ttlSeconds }, [200]);
  }

  /** Every bucket of the user (and key, model) with used, held, remaining and nextFreeAt. */
  async usage(params: UsageParams): Promise<Usage> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined || value === null) continue;
      query.set(name, Array.isArray(value) ? value.join(',') : String(value));
    }
    const answer = await send(this.settings, 'usage', 'GET', `usage?${query}`);
    return expect<Usage>('usage', answer, [200]);
  }

  /**
   * Reserve → run `call` → settle with the usage it reports (release and rethrow when it
   * throws). A refusal returns `{allowed: false, decision}` without running the call.
   */
  guard<T>(demand: GuardDemand, call: GuardCall<T>): Promise<GuardOutcome<T>> {
    return guard(
      {
        reserve: (body) => this.post<Decision>('reserve', body, DECISION_STATUSES),
        settle: (body) => this.settle(body),
        release: (requestId) => this.release(requestId),
        extend: (requestId, ttlSeconds) => this.extend(requestId, ttlSeconds),
        failMode: this.failMode,
        report: (error, operation) => this.report(error, operation),
      },
      demand,
      call,
    );
  }

  private async decide(operation: string, body: CheckRequest, requestId: string | null): Promise<Decision> {
    try {
      return await this.post<Decision>(operation, body, DECISION_STATUSES);
    } catch (error) {
      if (!(error instanceof QuotaUnavailableError) || this.failMode === 'closed') throw error;
      this.report(error, operation);
      return failOpenDecision(requestId);
    }
  }

  private async post<T>(operation: string, body: unknown, statuses: number[]): Promise<T> {
    return expect<T>(operation, await send(this.settings, operation, 'POST', operation, body), statuses);
  }

  private report(error: QuotaError, operation: string): void {
    try {
      this.onError(error, operation);
    } catch {
      // A failing logger must not turn an absorbed failure into a thrown one.
    }
  }
}

function expect<T>(operation: string, answer: { status: number; body: unknown }, statuses: number[]): T {
  if (statuses.includes(answer.status) && typeof answer.body === 'object' && answer.body !== null) {
    return answer.body as T;
  }
  throw new QuotaRequestError(operation, answer.status, asProblem(answer.body));
}

/** The shape the server itself answers when its store is down and FAIL_MODE=open. */
function failOpenDecision(requestId: string | null): Decision {
  return {
    allowed: true,
    status: 'ok',
    requestId,
    reservation: null,
    retryAfterMs: null,
    reason: null,
    buckets: [],
    shadowRefused: [],
    failOpen: true,
  };
}

/** Whole seconds for a `Retry-After` header (rounded up, as the server does); null when no time is known. */
export function retryAfterSeconds(decision: Pick<Decision, 'retryAfterMs'>): number | null {
  return decision.retryAfterMs === null ? null : Math.max(0, Math.ceil(decision.retryAfterMs / 1000));
}
