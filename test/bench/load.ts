import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';

/**
 * Drives autocannon and keeps every response time itself: autocannon's histogram has whole
 * milliseconds, too coarse for a ~1 ms service, and one histogram per run cannot tell the
 * /reserve and /settle steps of a flow apart.
 */

/** Per step of a scenario (one step, or two for reserve→settle). */
export interface StepFigures {
  step: string;
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
  ok: number;
  /** 429: a normal answer of /check and /reserve, reported apart from errors. */
  refused: number;
  /** Any other non-2xx. */
  failed: number;
  bytesPerResponse: number;
}

export interface RunFigures {
  seconds: number;
  connections: number;
  perSecond: number;
  steps: StepFigures[];
  /** All steps together. */
  overall: StepFigures;
  /** Connection errors and timeouts (no HTTP answer at all). */
  socketErrors: number;
}

/**
 * Labels responses with the step that asked: autocannon calls a request's `onResponse`
 * synchronously right before it emits 'response' for that same request, so the label set
 * in the first is the one the second reads.
 */
export class Recorder {
  private current = '';
  private readonly data = new Map<string, Samples>();

  /** An onResponse for requests of `step` (plus an optional hook of the scenario). */
  mark(step: string, then?: (status: number, context: Record<string, unknown>) => void) {
    return (status: number, _body: string, context: object) => {
      this.current = step;
      then?.(status, context as Record<string, unknown>);
    };
  }

  attach(instance: autocannon.Instance): void {
    // The typings predate autocannon 8, which passes the client first: read the last three.
    (instance as EventEmitter).on('response', (...args: unknown[]) => {
      const [status, bytes, ms] = args.slice(-3) as [number, number, number];
      let entry = this.data.get(this.current);
      if (!entry) this.data.set(this.current, (entry = { ms: [], status: new Map(), bytes: 0 }));
      entry.ms.push(ms);
      entry.bytes += bytes;
      entry.status.set(status, (entry.status.get(status) ?? 0) + 1);
    });
  }

  figures(seconds: number): StepFigures[] {
    return [...this.data].map(([step, entry]) => summarise(step, [entry], seconds));
  }

  /** Every step together (a flow's row): exact percentiles of the union. */
  overall(seconds: number): StepFigures {
    return summarise('all', [...this.data.values()], seconds);
  }
}

interface Samples {
  ms: number[];
  status: Map<number, number>;
  bytes: number;
}

function summarise(step: string, entries: Samples[], seconds: number): StepFigures {
  const sorted = Float64Array.from(entries.flatMap((e) => e.ms)).sort();
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  let ok = 0;
  let refused = 0;
  let bytes = 0;
  for (const entry of entries) {
    bytes += entry.bytes;
    for (const [status, n] of entry.status) {
      if (status >= 200 && status < 300) ok += n;
      else if (status === 429) refused += n;
    }
  }
  const count = sorted.length;
  return {
    step,
    count,
    perSecond: count / seconds,
    p50: at(0.5),
    p99: at(0.99),
    ok,
    refused,
    failed: count - ok - refused,
    bytesPerResponse: count > 0 ? bytes / count : 0,
  };
}

export type RequestsFactory = (recorder: Recorder) => autocannon.Request[];

function runOne(options: autocannon.Options, recorder: Recorder | null): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
    if (recorder) recorder.attach(instance);
  });
}

const common = { pipelining: 1, timeout: 10 } satisfies Partial<autocannon.Options>;

/** As many requests as `connections` keep in flight (closed loop): the throughput figure. */
export async function closedLoop(
  url: string,
  connections: number,
  seconds: number,
  requests: RequestsFactory,
): Promise<RunFigures> {
  const rounds = new ClosedLoopRounds(url, connections, requests);
  await rounds.round(seconds);
  return rounds.figures();
}

/**
 * One closed-loop scenario measured in rounds whose responses add up in one recorder, so
 * scenarios can take turns: the host's drift then falls on each of them alike.
 */
export class ClosedLoopRounds {
  private readonly recorder = new Recorder();
  private seconds = 0;
  private socketErrors = 0;

  constructor(
    private readonly url: string,
    private readonly connections: number,
    private readonly requests: RequestsFactory,
  ) {}

  async round(seconds: number): Promise<void> {
    const { url, connections, recorder } = this;
    const result = await runOne(
      { ...common, url, connections, duration: seconds, requests: this.requests(recorder) },
      recorder,
    );
    this.seconds += result.duration;
    this.socketErrors += result.errors + result.timeouts;
  }

  figures(): RunFigures {
    const steps = this.recorder.figures(this.seconds);
    return {
      seconds: this.seconds,
      connections: this.connections,
      perSecond: steps.reduce((sum, s) => sum + s.count, 0) / this.seconds,
      steps,
      overall: this.recorder.overall(this.seconds),
      socketErrors: this.socketErrors,
    };
  }
}

/**
 * A fixed rate, spread over the second. autocannon's `overallRate` lets each connection
 * send its per-second quota back to back when its 1 s timer fires, and all connections of
 * an instance share that instant: half of saturation then arrives as a saturating burst in
 * the first half of each second, and its latency is the saturated one. So the rate is split
 * over `instances` single-connection autocannon instances whose seconds start staggered by
 * 1/instances s, which spaces the bursts into a near-steady stream.
 */
export async function paced(
  url: string,
  rate: number,
  instances: number,
  seconds: number,
  requests: RequestsFactory,
): Promise<RunFigures> {
  const recorder = new Recorder();
  const share = (i: number) => Math.floor(rate / instances) + (i < rate % instances ? 1 : 0);
  const runs = Array.from({ length: instances }, async (_, i) => {
    if (share(i) === 0) return null;
    await new Promise((resolve) => setTimeout(resolve, (i * 1000) / instances));
    const options = { ...common, url, connections: 1, overallRate: share(i), duration: seconds };
    return runOne({ ...options, requests: requests(recorder) }, recorder);
  });
  const results = (await Promise.all(runs)).filter((r): r is autocannon.Result => r !== null);
  const steps = recorder.figures(seconds);
  return {
    seconds,
    connections: results.length,
    perSecond: steps.reduce((sum, s) => sum + s.count, 0) / seconds,
    steps,
    overall: recorder.overall(seconds),
    socketErrors: results.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
  };
}

/** The same rate from one instance with `overallRate`, as autocannon paces it (bursty). */
export async function overallRate(
  url: string,
  rate: number,
  connections: number,
  seconds: number,
  requests: RequestsFactory,
): Promise<RunFigures> {
  const recorder = new Recorder();
  const options = { ...common, url, connections, overallRate: rate, duration: seconds };
  const result = await runOne({ ...options, requests: requests(recorder) }, recorder);
  const steps = recorder.figures(result.duration);
  return {
    seconds: result.duration,
    connections,
    perSecond: steps.reduce((sum, s) => sum + s.count, 0) / result.duration,
    steps,
    overall: recorder.overall(result.duration),
    socketErrors: result.errors + result.timeouts,
  };
}
