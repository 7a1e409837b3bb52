import type { RunFigures, StepFigures } from './load.js';

/** The printed result: one table plus what is needed to judge and repeat it. */
export interface Row {
  scenario: string;
  connections: string;
  figures: StepFigures;
  /** Server CPU per request (all steps); undefined on step rows. */
  cpuMicros?: number | null;
  /** The Redis server's CPU per request over the same seconds (all its clients). */
  redisMicros?: number | null;
  /** The load generator's (this process's) CPU per request. */
  loadMicros?: number | null;
  /** null: no ratio makes sense (a fixed-rate run). */
  ratio: number | null;
  target: string;
  met: boolean | null;
}

export type MeasuredRun = RunFigures & {
  cpuMicros: number | null;
  redisMicros: number | null;
  loadMicros: number | null;
};

/** The three CPU figures of a scenario row. */
const cpuOf = (run: MeasuredRun): Pick<Row, 'cpuMicros' | 'redisMicros' | 'loadMicros'> => ({
  cpuMicros: run.cpuMicros,
  redisMicros: run.redisMicros,
  loadMicros: run.loadMicros,
});

export interface BenchRuns {
  baseRun: MeasuredRun;
  /** Bare Fastify + one EVALSHA INCRing six keys (peer-server.ts, PEER=six-keys). */
  sixKeysRun: MeasuredRun;
  /** rate-limiter-flexible RateLimiterUnion of six RateLimiterRedis (PEER=rlf). */
  rlfRun: MeasuredRun;
  /** A bare route replaying /check's own decide calls and replies (PEER=floor). */
  floorRun: MeasuredRun;
  checkRun: MeasuredRun;
  /** /check whose six buckets include three token buckets. */
  tokenRun: MeasuredRun;
  flowRun: MeasuredRun;
  settleRun: MeasuredRun;
  probeRun: MeasuredRun;
  pacedRun: MeasuredRun;
  burstRun: MeasuredRun;
}

export interface Targets {
  checkRatio: number;
  /** /check ÷ the six-key EVALSHA route. */
  sixKeysRatio: number;
  /** /check ÷ the rate-limiter-flexible union. */
  rlfRatio: number;
  settlePerSecond: number;
  halfSaturationP99Ms: number;
}

export function stepOf(run: RunFigures, step: string): StepFigures {
  const found = run.steps.find((s) => s.step === step);
  if (!found) throw new Error(`no response was recorded for ${step}`);
  return found;
}

/** One row per scenario; the reserve→settle flow also gets a row per step. */
export function buildRows(runs: BenchRuns, connections: number, targets: Targets): Row[] {
  const {
    baseRun,
    sixKeysRun,
    rlfRun,
    floorRun,
    checkRun,
    tokenRun,
    flowRun,
    settleRun,
    probeRun,
    pacedRun,
    burstRun,
  } = runs;
  const ratio = (f: StepFigures) => f.perSecond / baseRun.perSecond;
  const plain = { ratio: null, target: '', met: null };
  const c = String(connections);
  const check = stepOf(checkRun, '/check');
  const sixKeys = stepOf(sixKeysRun, '/peer');
  const rlf = stepOf(rlfRun, '/peer');
  const floor = stepOf(floorRun, '/peer');
  /** What `of` reaches against a peer: a "÷" row under the row of `of`. */
  const versus = (of: StepFigures, name: string, peer: StepFigures, target: number | null): Row => ({
    ...plain,
    scenario: `  ${name}`,
    connections: '',
    figures: of,
    ratio: of.perSecond / peer.perSecond,
    target: target === null ? '' : `≥ ${target}×`,
    met: target === null ? null : of.perSecond / peer.perSecond >= target,
  });
  const settle = stepOf(settleRun, '/settle');
  const probe = stepOf(probeRun, '/check');
  const halfway = stepOf(pacedRun, '/check');
  return [
    {
      ...plain,
      scenario: 'baseline: Fastify + 1 EVALSHA',
      connections: c,
      figures: stepOf(baseRun, '/baseline'),
      ...cpuOf(baseRun),
      ratio: 1,
    },
    {
      ...plain,
      scenario: 'peer: Fastify + 1 EVALSHA INCR×6 keys',
      connections: c,
      figures: sixKeys,
      ...cpuOf(sixKeysRun),
      ratio: ratio(sixKeys),
    },
    {
      ...plain,
      scenario: 'peer: rate-limiter-flexible Union of 6 Redis',
      connections: c,
      figures: rlf,
      ...cpuOf(rlfRun),
      ratio: ratio(rlf),
    },
    {
      ...plain,
      scenario: "floor: /check's decide calls replayed",
      connections: c,
      figures: floor,
      ...cpuOf(floorRun),
      ratio: ratio(floor),
    },
    versus(floor, 'floor ÷ six-key EVALSHA peer', sixKeys, null),
    versus(floor, 'floor ÷ rate-limiter-flexible peer', rlf, null),
    {
      scenario: '/check',
      connections: c,
      figures: check,
      ...cpuOf(checkRun),
      ratio: ratio(check),
      target: `≥ ${targets.checkRatio}× baseline`,
      met: ratio(check) >= targets.checkRatio,
    },
    versus(check, '/check ÷ six-key EVALSHA peer', sixKeys, targets.sixKeysRatio),
    versus(check, '/check ÷ rate-limiter-flexible peer', rlf, targets.rlfRatio),
    versus(check, '/check ÷ floor', floor, null),
    {
      ...plain,
      scenario: '/check, 3 of 6 buckets tokens',
      connections: c,
      figures: stepOf(tokenRun, '/check'),
      ...cpuOf(tokenRun),
      ratio: ratio(stepOf(tokenRun, '/check')),
    },
    {
      ...plain,
      scenario: '/reserve→/settle (both steps)',
      connections: c,
      figures: flowRun.overall,
      ...cpuOf(flowRun),
      ratio: ratio(flowRun.overall),
    },
    { ...plain, scenario: '  step /reserve', connections: '', figures: stepOf(flowRun, '/reserve') },
    {
      ...plain,
      scenario: '  step /settle (reserved)',
      connections: '',
      figures: stepOf(flowRun, '/settle (reserved)'),
    },
    {
      scenario: '/settle alone (durable)',
      connections: c,
      figures: settle,
      ...cpuOf(settleRun),
      ratio: ratio(settle),
      target: `≥ ${targets.settlePerSecond.toLocaleString('en-US')}/s`,
      met: settle.perSecond >= targets.settlePerSecond,
    },
    {
      ...plain,
      scenario: '/check saturation probe',
      connections: String(2 * connections),
      figures: probe,
      ...cpuOf(probeRun),
      ratio: ratio(probe),
    },
    {
      scenario: '/check at ½ saturation, paced',
      connections: `${pacedRun.connections}×1`,
      figures: halfway,
      ...cpuOf(pacedRun),
      ratio: null,
      target: `p99 ≤ ${targets.halfSaturationP99Ms} ms`,
      met: halfway.p99 <= targets.halfSaturationP99Ms,
    },
    {
      ...plain,
      scenario: '/check at ½ saturation, overallRate (bursty)',
      connections: c,
      figures: stepOf(burstRun, '/check'),
      ...cpuOf(burstRun),
    },
  ];
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');
const int = (v: number) => Math.round(v).toLocaleString('en-US');
const micros = (v: number | null | undefined) => (v === undefined ? '' : v === null ? '—' : int(v));
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '—');

export function renderTable(rows: Row[]): string {
  const header = [
    'scenario',
    'conns',
    'req/s',
    'p50 ms',
    'p99 ms',
    '429',
    'errors',
    'server CPU µs/req',
    'Redis CPU µs/req',
    'load CPU µs/req',
    'ratio',
    'target',
    'met?',
  ];
  const cells = rows.map((r) => [
    r.scenario,
    r.connections,
    int(r.figures.perSecond),
    ms(r.figures.p50),
    ms(r.figures.p99),
    pct(r.figures.refused, r.figures.count),
    int(r.figures.failed),
    micros(r.cpuMicros),
    micros(r.redisMicros),
    micros(r.loadMicros),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    r.target,
    r.met === null ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}
