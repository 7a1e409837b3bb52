/**
 * What one seed did and found: operations and faults by kind, the operation log (for the
 * tail printed with each violation) and the violations themselves.
 */

export interface LogEntry {
  /** ms since the seed started. */
  t: number;
  user: string;
  text: string;
}

export interface Violation {
  seed: number;
  /** A stable rule name, e.g. `cap-cost`, `usage-below`, `ledger-missing`. */
  rule: string;
  user: string;
  message: string;
  /** The most recent faults before it, newest first. */
  recentFaults: string[];
  /** The last log lines of this user (and the faults), oldest first. */
  tail: string[];
}

export class SeedReport {
  readonly started = Date.now();
  finished: number | null = null;
  readonly ops = new Map<string, number>();
  readonly outcomes = new Map<string, number>();
  readonly faults = new Map<string, number>();
  readonly violations: Violation[] = [];
  readonly log: LogEntry[] = [];
  readonly notes: string[] = [];
  /** Per user given ledger history before the seed (history.ts): what it added to which bucket. */
  readonly history: string[] = [];
  private readonly faultLines: LogEntry[] = [];

  constructor(readonly seed: number) {}

  private bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  op(kind: string, outcome: string): void {
    this.bump(this.ops, kind);
    this.bump(this.outcomes, `${kind}:${outcome}`);
  }

  fault(kind: string, text: string): void {
    this.bump(this.faults, kind);
    const entry = { t: Date.now() - this.started, user: '*', text: `FAULT ${text}` };
    this.log.push(entry);
    this.faultLines.push(entry);
  }

  line(user: string, text: string): void {
    this.log.push({ t: Date.now() - this.started, user, text });
  }

  violation(rule: string, user: string, message: string): void {
    const now = Date.now() - this.started;
    const recentFaults = this.faultLines
      .slice(-4)
      .reverse()
      .map((f) => `${((now - f.t) / 1000).toFixed(1)}s ago: ${f.text.replace(/^FAULT /, '')}`);
    const tail = this.log
      .filter((e) => e.user === user || e.user === '*')
      .slice(-14)
      .map((e) => `  +${(e.t / 1000).toFixed(3)}s ${e.user === '*' ? '' : `${e.user} `}${e.text}`);
    this.violations.push({ seed: this.seed, rule, user, message, recentFaults, tail });
    this.line(user, `VIOLATION ${rule}: ${message}`);
  }

  get opCount(): number {
    return [...this.ops.values()].reduce((a, b) => a + b, 0);
  }

  get faultCount(): number {
    return [...this.faults.values()].reduce((a, b) => a + b, 0);
  }
}

const table = (map: Map<string, number>) =>
  [...map.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || '(none)';

export function formatSeed(
  report: SeedReport,
  options: { maxViolations?: number; verbose?: boolean } = {},
): string {
  const max = options.maxViolations ?? 12;
  const lines: string[] = [];
  const seconds = (((report.finished ?? Date.now()) - report.started) / 1000).toFixed(1);
  lines.push(
    `seed ${report.seed}: ${report.opCount} operations, ${report.faultCount} faults, ${report.violations.length} violations (${seconds}s)`,
  );
  lines.push(`  operations: ${table(report.ops)}`);
  if (options.verbose) lines.push(`  outcomes:   ${table(report.outcomes)}`);
  lines.push(`  faults:     ${table(report.faults)}`);
  for (const h of report.history) lines.push(`  history:    ${h}`);
  for (const note of report.notes) lines.push(`  note: ${note}`);
  if (report.violations.length > 0) {
    const byRule = new Map<string, number>();
    for (const v of report.violations) byRule.set(v.rule, (byRule.get(v.rule) ?? 0) + 1);
    lines.push(`  violations: ${table(byRule)}`);
  }
  for (const v of report.violations.slice(0, max)) {
    lines.push(`  VIOLATION [${v.rule}] ${v.user}: ${v.message}`);
    if (v.recentFaults.length > 0) lines.push(`    recent faults: ${v.recentFaults.join(' | ')}`);
    lines.push('    log tail:', ...v.tail.map((l) => `    ${l}`));
  }
  if (report.violations.length > max) lines.push(`  … ${report.violations.length - max} more violations`);
  lines.push(`  replay: npm run chaos -- --seed ${report.seed}`);
  return lines.join('\n');
}

export function summaryLine(reports: SeedReport[]): string {
  const ops = reports.reduce((a, r) => a + r.opCount, 0);
  const faults = reports.reduce((a, r) => a + r.faultCount, 0);
  const violations = reports.reduce((a, r) => a + r.violations.length, 0);
  return `chaos: ${reports.length} seeds, ${ops} operations, ${faults} faults, ${violations} violations`;
}

/** Every log line of a seed, for --log-file. */
export function formatLog(report: SeedReport): string {
  const lines = report.log.map(
    (e) => `+${(e.t / 1000).toFixed(3)}s ${e.user === '*' ? '' : `${e.user} `}${e.text}`,
  );
  return `=== seed ${report.seed}\n${lines.join('\n')}\n`;
}
