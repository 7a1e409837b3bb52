import { DateTime } from 'luxon';
import type { Prng } from './prng.js';
import { sliceSlackMs, type WindowModel } from './windows.js';

/**
 * The users of one seed and their limits. Four profiles cover every metric (cost, the token
 * metrics input_tokens / output_tokens / tokens, requests, sessions, concurrency) and window kind (rolling short and long, fixed with an anchor,
 * calendar daily with a time zone and reset time, first_use, total); caps and lengths vary
 * with the seed. Short windows (≤ 20 s) roll during a run; long ones keep everything.
 */

export type Metric =
  'cost' | 'input_tokens' | 'output_tokens' | 'tokens' | 'requests' | 'sessions' | 'concurrency';
export type AmountMetric = 'cost' | 'input_tokens' | 'output_tokens' | 'tokens';

/** What one operation holds (estimates) or charges (actuals): µ$ and tokens. */
export interface Amounts {
  cost: number;
  input: number;
  output: number;
}

/**
 * The metrics counted by amount (SPEC §4.1, §4.7): held at /reserve, charged in full at
 * /settle, admitted by `used + held + estimate ≤ cap` (estimate > 0) or `used + held < cap`.
 */
export const isAmountMetric = (m: Metric): m is AmountMetric =>
  m === 'cost' || m === 'input_tokens' || m === 'output_tokens' || m === 'tokens';

/** The part of `a` a bucket of metric `m` holds or is charged (tokens: input + output). */
export function amountFor(m: AmountMetric, a: Amounts): number {
  switch (m) {
    case 'cost':
      return a.cost;
    case 'input_tokens':
      return a.input;
    case 'output_tokens':
      return a.output;
    case 'tokens':
      return a.input + a.output;
  }
}
export type Scope = 'group' | 'all';

export interface LimitSpec {
  /** The checker's name for it: `<metric>/<scope>` (one limit per metric and scope per user). */
  id: string;
  metric: Metric;
  scope: Scope;
  window: string | null;
  reset: 'rolling' | 'fixed' | 'calendar' | 'first_use' | null;
  anchor: string | null;
  timezone: string | null;
  resetTime: string | null;
  /** µ$ for cost, tokens for the token metrics, a count otherwise. */
  cap: number;
}

export interface UserProfile {
  user: string;
  profile: string;
  limits: LimitSpec[];
}

export const ZONES = [
  'UTC',
  'America/New_York',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/St_Johns',
  'Europe/Berlin',
] as const;

const usd = (amount: number) => Math.round(amount * 1e6);

function limit(
  metric: Metric,
  scope: Scope,
  window: string | null,
  reset: LimitSpec['reset'],
  cap: number,
  extra: Partial<Pick<LimitSpec, 'anchor' | 'timezone' | 'resetTime'>> = {},
): LimitSpec {
  return {
    id: `${metric}/${scope}`,
    metric,
    scope,
    window,
    reset,
    anchor: extra.anchor ?? null,
    timezone: extra.timezone ?? null,
    resetTime: extra.resetTime ?? null,
    cap,
  };
}

/** A fixed anchor somewhere in the last hour, on a whole second. */
export function randomAnchor(prng: Prng, now: number): string {
  return new Date(Math.floor(now / 1000) * 1000 - prng.int(1, 3600) * 1000).toISOString();
}

/**
 * A reset time for a calendar limit in `zone`: midnight, a minute or two before now (the
 * window has just started: an edit to it moves the window start forward while keeping the
 * run's spend inside), or a few minutes after now (the window rolls during the run). Local
 * hours 01–03 are avoided: on a daylight-saving day they may not exist or exist twice.
 */
export function randomResetTime(prng: Prng, zone: string, now: number): string {
  const roll = prng.next();
  if (roll < 0.3) return '00:00';
  const minutes = roll < 0.7 ? -prng.int(1, 2) : prng.int(1, 3);
  const shifted = DateTime.fromMillis(now, { zone }).plus({ minutes });
  if (shifted.hour >= 1 && shifted.hour <= 3) return '12:00';
  return shifted.toFormat('HH:mm');
}

export function profilesFor(seed: number, prng: Prng, users: number, now: number): UserProfile[] {
  const out: UserProfile[] = [];
  for (let i = 0; i < users; i++) {
    const user = `s${seed}-u${i}`;
    const p = prng.fork(`profile-${i}`);
    switch (i % 4) {
      case 0:
        out.push({
          user,
          profile: 'rolling',
          limits: [
            limit('cost', 'group', `${p.int(10, 15)}s`, 'rolling', usd(p.pick([0.8, 1, 1.2]))),
            limit('requests', 'all', `${p.int(15, 25)}s`, 'rolling', p.int(4, 6)),
            limit('concurrency', 'all', null, null, 2),
            limit('sessions', 'group', '1h', 'rolling', 3),
            limit('tokens', 'group', `${p.int(10, 20)}s`, 'rolling', p.pick([9_000, 12_000, 15_000])),
          ],
        });
        break;
      case 1: {
        const timezone = p.pick(ZONES);
        out.push({
          user,
          profile: 'calendar',
          limits: [
            limit('cost', 'all', 'daily', 'calendar', usd(p.pick([2, 2.5, 3])), {
              timezone,
              resetTime: randomResetTime(p, timezone, now),
            }),
            limit('requests', 'group', '1h', 'rolling', p.int(12, 16)),
            limit('concurrency', 'group', null, null, 3),
            limit('output_tokens', 'all', '1h', 'rolling', p.pick([8_000, 10_000, 12_000])),
          ],
        });
        break;
      }
      case 2:
        out.push({
          user,
          profile: 'fixed',
          limits: [
            limit('cost', 'group', `${p.int(12, 20)}s`, 'fixed', usd(p.pick([0.8, 1, 1.2])), {
              anchor: randomAnchor(p, now),
            }),
            limit('requests', 'all', 'total', null, p.int(16, 22)),
            limit('sessions', 'all', '20h', 'rolling', 2),
            limit('concurrency', 'group', null, null, 1),
            limit('input_tokens', 'all', 'total', null, p.pick([12_000, 16_000, 20_000])),
          ],
        });
        break;
      default:
        out.push({
          user,
          profile: 'first_use',
          limits: [
            limit('cost', 'group', '5h', 'first_use', usd(p.pick([2, 2.5, 3]))),
            limit('requests', 'group', `${p.int(15, 20)}s`, 'fixed', p.int(3, 4), {
              anchor: randomAnchor(p, now),
            }),
            limit('cost', 'all', 'total', null, usd(p.pick([1, 1.5]))),
            limit('sessions', 'all', `${p.int(15, 20)}s`, 'rolling', 2),
            limit('tokens', 'all', '5h', 'first_use', p.pick([15_000, 20_000])),
          ],
        });
    }
  }
  return out;
}

function lengthMs(window: string): number {
  const match = /^(\d+)([smhd])$/.exec(window);
  if (!match) throw new Error(`window ${window} has no length`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** The window a limit defines, as the model computes it. */
export function windowOf(spec: LimitSpec): WindowModel {
  if (spec.metric === 'concurrency') return { kind: 'none' };
  if (spec.window === 'total') return { kind: 'total' };
  if (spec.reset === 'calendar') {
    return { kind: 'calendar', timezone: spec.timezone ?? 'UTC', resetTime: spec.resetTime ?? '00:00' };
  }
  const length = lengthMs(spec.window ?? '');
  if (spec.reset === 'fixed')
    return { kind: 'fixed', lengthMs: length, anchor: Date.parse(spec.anchor ?? '') };
  if (spec.reset === 'first_use') return { kind: 'first_use', lengthMs: length };
  // SPEC §4.1: rolling requests/sessions with a cap ≤ 1000 are exact logs; cost and tokens use slices.
  const exact = !isAmountMetric(spec.metric) && spec.cap <= 1000;
  return { kind: 'rolling', lengthMs: length, slackMs: exact ? 0 : sliceSlackMs(length) };
}

/** The PUT /admin/limits body of a spec. */
export function limitBody(user: string, groupId: number, spec: LimitSpec): Record<string, unknown> {
  const body: Record<string, unknown> = {
    subjectType: 'user',
    subjectId: user,
    modelGroupId: spec.scope === 'group' ? groupId : null,
    metric: spec.metric,
    limit: spec.metric === 'cost' ? (spec.cap / 1e6).toFixed(6) : spec.cap,
  };
  if (spec.window !== null) body.window = spec.window;
  if (spec.reset !== null) body.reset = spec.reset;
  if (spec.anchor !== null) body.anchor = spec.anchor;
  if (spec.timezone !== null) body.timezone = spec.timezone;
  if (spec.resetTime !== null) body.resetTime = spec.resetTime;
  return body;
}

/**
 * SPEC §2 steps 3–5: which of a user's limits apply to a request on `inGroup` (the model of
 * the seed's group) or on the ungrouped model. Group limits apply only to the group's model;
 * all-models limits always, except all-models cost when the user has a cost limit on the
 * group (the cost split; SPEC §1: it applies to cost alone, never to token metrics).
 */
export function applicable(profile: UserProfile, inGroup: boolean): LimitSpec[] {
  const groupCost = profile.limits.some((l) => l.metric === 'cost' && l.scope === 'group');
  return profile.limits.filter((l) => {
    if (l.scope === 'group') return inGroup;
    return !(l.metric === 'cost' && inGroup && groupCost);
  });
}

/** The limits a limit-edit fault may move, and how. */
export function editableLimits(profile: UserProfile): LimitSpec[] {
  return profile.limits.filter((l) => l.reset === 'fixed' || l.reset === 'calendar');
}

export function editedSpec(prng: Prng, spec: LimitSpec, now: number): LimitSpec {
  for (let attempt = 0; ; attempt++) {
    const next: LimitSpec =
      spec.reset === 'fixed'
        ? { ...spec, anchor: randomAnchor(prng, now) }
        : (() => {
            const timezone = prng.chance(0.7)
              ? prng.pick(ZONES.filter((z) => z !== spec.timezone))
              : (spec.timezone ?? 'UTC');
            return { ...spec, timezone, resetTime: randomResetTime(prng, timezone, now) };
          })();
    // A re-PUT of the same definition is no edit; a few tries always find another one.
    if (
      attempt >= 5 ||
      next.anchor !== spec.anchor ||
      next.timezone !== spec.timezone ||
      next.resetTime !== spec.resetTime
    )
      return next;
  }
}
