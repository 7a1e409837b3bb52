import { ClosedLoopRounds, closedLoop, type RequestsFactory, type RunFigures } from './load.js';
import { cpuMillis, type ServerProcess } from './processes.js';
import type { MeasuredRun } from './report.js';
import { redisCpuMicros } from './resources.js';

/** CPU spent while runs went on: the server's, Redis' (every client's) and this process's. */
export class CpuTally {
  private serverMs: number | null = 0;
  private redisUs: number | null = 0;
  private loadUs = 0;

  constructor(
    private readonly server: ServerProcess,
    private readonly redisUrl: string,
  ) {}

  /** Runs `work`, adding what it cost to the tally; a server that died fails loudly. */
  async during<T>(label: string, work: () => Promise<T>): Promise<T> {
    const serverBefore = cpuMillis(this.server.pid);
    const redisBefore = await redisCpuMicros(this.redisUrl);
    const loadBefore = process.cpuUsage();
    const result = await work();
    const load = process.cpuUsage(loadBefore);
    const redisAfter = await redisCpuMicros(this.redisUrl);
    const serverAfter = cpuMillis(this.server.pid);
    if (!this.server.running())
      throw new Error(`${this.server.name} died during ${label}:\n${this.server.output()}`);
    this.loadUs += load.user + load.system;
    this.serverMs = add(this.serverMs, serverBefore, serverAfter);
    this.redisUs = add(this.redisUs, redisBefore, redisAfter);
    return result;
  }

  /** The figures with the tally per response. */
  of(figures: RunFigures): MeasuredRun {
    const n = figures.overall.count;
    return {
      ...figures,
      cpuMicros: this.serverMs === null ? null : (this.serverMs * 1000) / n,
      redisMicros: this.redisUs === null ? null : this.redisUs / n,
      loadMicros: this.loadUs / n,
    };
  }
}

const add = (sum: number | null, before: number | null, after: number | null) =>
  sum === null || before === null || after === null ? null : sum + after - before;

export interface Turn {
  label: string;
  server: ServerProcess;
  requests: RequestsFactory;
}

export interface TurnOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  turns: number;
  redisUrl: string;
  log: (line: string) => void;
}

/**
 * Closed-loop scenarios measured taking turns: each is warmed up, then every scenario runs
 * `seconds ÷ turns` per turn until each has run `seconds`. A drift of the host's speed
 * within the run (2× here between minutes) then falls on every scenario alike, so the
 * ratios between them hold where back-to-back runs would compare two hosts.
 */
export async function measureInTurns<K extends string>(
  scenarios: Record<K, Turn>,
  options: TurnOptions,
): Promise<Record<K, MeasuredRun>> {
  const { connections, seconds, warmupSeconds, log } = options;
  const turns = Math.min(options.turns, seconds);
  log(`ratio rows: ${warmupSeconds} s warm-up each, then ${seconds} s each in ${turns} turns`);
  const state = (Object.keys(scenarios) as K[]).map((key) => ({
    key,
    ...scenarios[key],
    rounds: new ClosedLoopRounds(scenarios[key].server.url, connections, scenarios[key].requests),
    tally: new CpuTally(scenarios[key].server, options.redisUrl),
  }));
  for (const { server, requests } of state)
    if (warmupSeconds > 0) await closedLoop(server.url, connections, warmupSeconds, requests);
  for (let turn = 0; turn < turns; turn++) {
    // Whole seconds per turn, summing to `seconds`.
    const share = Math.round(((turn + 1) * seconds) / turns) - Math.round((turn * seconds) / turns);
    for (const { label, rounds, tally } of state) await tally.during(label, () => rounds.round(share));
  }
  const runs = {} as Record<K, MeasuredRun>;
  for (const { key, label, rounds, tally } of state) {
    runs[key] = tally.of(rounds.figures());
    log(`${label}: ${Math.round(runs[key].perSecond)} req/s, p99 ${runs[key].overall.p99.toFixed(2)} ms`);
  }
  return runs;
}
