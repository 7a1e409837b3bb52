import { DateTime, IANAZone } from 'luxon';
import type { FieldError } from './errors.js';
import { parseUsd } from './money.js';
import { FREE_TEXT_MESSAGE, isFreeText, PRINTABLE } from './text-rules.js';
import {
  EVERYONE_SUBJECT_ID,
  type LimitMode,
  type BoostRecord,
  type BucketSubjectType,
  type LimitRecord,
  type LimitSubjectType,
  type Metric,
  type Reset,
} from './types.js';
import { CONCURRENCY_SLOT, slotOf, type WindowSpec } from './window-spec.js';

/**
 * The admin rules of SPEC §1 and §5 for limits, boosts and reset markers, as pure
 * functions: each takes what the operator sent and returns the normalized draft to store,
 * or every field error at once. No I/O: existence of referenced rows is the service's job.
 * Shape is the request schema's (src/http/schemas/limits.ts, boosts.ts, resets.ts: enums,
 * JSON numbers, lengths, array sizes, free text), which refuses first with its own wording;
 * these are the rules zod does not make (fields read together, windows, money, zones).
 */
export type RuleResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export const SUBJECT_ID_MAX_LENGTH = 256;
/** Printable: no control, format, surrogate or unassigned code points. */
export const SUBJECT_ID_PATTERN = PRINTABLE;
/** User groups are named by their id (a serial: a positive int4) in decimal. */
const USER_GROUP_ID = /^[1-9][0-9]{0,9}$/;
export const MAX_ROW_ID = 2_147_483_647;
const RESET_TIME = /^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/;
/** RFC 3339: an explicit offset, so an instant never depends on the server's zone. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
/** Years 0001–9999 in UTC: RFC 3339's range, and PostgreSQL has no year 0000 (it is 1 BC there). */
const EARLIEST_INSTANT = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

export interface LimitInput {
  subjectType: LimitSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window?: string | null;
  reset?: string | null;
  anchor?: string | null;
  timezone?: string | null;
  resetTime?: string | null;
  limit: number | string;
  mode?: LimitMode | null;
  alertAt?: number[] | null;
  override?: boolean | null;
}

/** A limit ready to store: `cap` in µ$ for cost, a count otherwise; `anchor` epoch ms. */
export type LimitDraft = Omit<LimitRecord, 'id'>;

export interface BoostInput {
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window?: string | null;
  amount: number | string;
  startsAt?: string | null;
  expiresAt: string;
  reason?: string | null;
}

export type BoostDraft = Omit<BoostRecord, 'id'> & { reason: string | null };

export interface ResetMarkerInput {
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window?: string | null;
}

export interface ResetMarkerDraft {
  subjectType: BucketSubjectType;
  subjectId: string;
  modelGroupId: number | null;
  metric: Metric;
  window: string | null;
  slot: string;
}

/** One field's verdict: its normalized value, or why it is refused. */
export type Check<T> = { ok: true; value: T } | { ok: false; message: string };
const pass = <T>(value: T): Check<T> => ({ ok: true, value });
const fail = <T>(message: string): Check<T> => ({ ok: false, message });

export function checkSubjectId(subjectType: LimitSubjectType, subjectId: string): Check<string> {
  if (subjectId.length < 1 || subjectId.length > SUBJECT_ID_MAX_LENGTH) {
    return fail(`must be 1 to ${SUBJECT_ID_MAX_LENGTH} characters`);
  }
  if (!SUBJECT_ID_PATTERN.test(subjectId)) return fail('must contain printable characters only');
  if (subjectType === 'everyone' && subjectId !== EVERYONE_SUBJECT_ID) {
    return fail(`for everyone, must be "${EVERYONE_SUBJECT_ID}"`);
  }
  if (subjectType === 'user_group' && !(USER_GROUP_ID.test(subjectId) && Number(subjectId) <= MAX_ROW_ID)) {
    return fail('for a user_group, the user group id in decimal (e.g. "7")');
  }
  return pass(subjectId);
}

/** `slotOf` of window-spec, with JSON null and absence meaning "no window". */
export function checkWindow(metric: Metric, window: string | null | undefined): Check<WindowSpec> {
  const parsed = slotOf(metric, window ?? null);
  return parsed.ok ? pass(parsed.spec) : fail(parsed.message);
}

/**
 * A cap or a boost amount: dollars (≤ 6 decimals, exact) → µ$ for cost, a whole count
 * otherwise. `positive` is the boost rule (> 0); limits allow 0 (= blocked).
 */
export function checkQuantity(metric: Metric, value: number | string, positive: boolean): Check<number> {
  // Not finite: parseUsd refuses it, and a count is not an integer.
  const bound = positive ? 'must be greater than 0' : 'must be 0 or more';
  if (metric === 'cost') {
    const money = parseUsd(value);
    if (!money.ok) return fail(money.message);
    if (money.micros < 0 || (positive && money.micros === 0)) return fail(bound);
    return pass(money.micros);
  }
  const text = typeof value === 'number' ? null : value.trim();
  if (text !== null && !/^-?\d+(?:\.\d+)?$/.test(text)) return fail(`must be a whole number of ${metric}`);
  const count = text === null ? (value as number) : Number(text);
  if (count < 0 || (positive && count === 0)) return fail(bound);
  if (!Number.isInteger(count)) return fail(`must be a whole number of ${metric}`);
  if (!Number.isSafeInteger(count)) return fail('is too large');
  return pass(count);
}

/** RFC 3339 date-time with an offset → epoch ms. */
export function checkInstant(text: string): Check<number> {
  if (!INSTANT.test(text)) {
    return fail('must be an ISO-8601 date-time with an offset, e.g. 2027-01-04T00:00:00Z');
  }
  const parsed = DateTime.fromISO(text, { setZone: true });
  if (!parsed.isValid) return fail('is not a valid date-time');
  const ms = parsed.toMillis();
  if (ms < EARLIEST_INSTANT || ms > LATEST_INSTANT) return fail('must be between years 0001 and 9999 (UTC)');
  return pass(ms);
}

/** An IANA zone name; fixed offsets and the host's zone (`local`, `system`) are refused. */
export function checkTimezone(zone: string): Check<string> {
  return IANAZone.isValidZone(zone) && DateTime.local().setZone(zone).isValid
    ? pass(zone)
    : fail('must be an IANA time zone name, e.g. Europe/Berlin');
}

export function checkResetTime(text: string): Check<string> {
  return RESET_TIME.test(text) ? pass(text) : fail('must be HH:MM between 00:00 and 23:59');
}

/** The reset of a window: its default when absent, else one the window allows. */
export function checkReset(spec: WindowSpec, reset: string | null | undefined): Check<Reset | null> {
  if (reset === undefined || reset === null) return pass(spec.defaultReset);
  if (spec.allowedResets.length === 0) {
    return fail(`${spec.slot === CONCURRENCY_SLOT ? 'concurrency' : spec.slot} takes no reset; omit it`);
  }
  if (!spec.allowedResets.includes(reset as Reset)) {
    return fail(`${reset} is not allowed for ${spec.slot}; use ${spec.allowedResets.join(', ')}`);
  }
  return pass(reset as Reset);
}

/** Collects field errors; `take` returns the value or undefined after recording the error. */
class Errors {
  readonly list: FieldError[] = [];
  take<T>(field: string, check: Check<T>): T | undefined {
    if (check.ok) return check.value;
    this.list.push({ field, message: check.message });
    return undefined;
  }
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

const given = <T>(value: T | null | undefined): value is T => value !== undefined && value !== null;

export function validateLimit(input: LimitInput): RuleResult<LimitDraft> {
  const errors = new Errors();
  const subjectId = errors.take('subjectId', checkSubjectId(input.subjectType, input.subjectId));
  const cap = errors.take('limit', checkQuantity(input.metric, input.limit, false));
  const spec = errors.take('window', checkWindow(input.metric, input.window));
  const reset = spec ? errors.take('reset', checkReset(spec, input.reset)) : undefined;
  const alertAt = errors.take('alertAt', checkAlertAt(input.alertAt ?? []));
  const override = input.override ?? false;
  if (override && input.subjectType !== 'user') {
    errors.add('override', 'only on a user limit (subjectType user)');
  }

  let anchor: number | null = null;
  let timezone: string | null = null;
  let resetTime: string | null = null;
  // Window fields are judged against the effective reset, once it is known.
  if (reset !== undefined) {
    if (given(input.anchor)) {
      if (reset !== 'fixed') errors.add('anchor', 'only with reset fixed');
      else anchor = errors.take('anchor', checkInstant(input.anchor)) ?? null;
    }
    if (given(input.timezone)) {
      if (reset !== 'calendar') errors.add('timezone', 'only with reset calendar');
      else timezone = errors.take('timezone', checkTimezone(input.timezone)) ?? null;
    }
    if (given(input.resetTime)) {
      if (reset !== 'calendar') errors.add('resetTime', 'only with reset calendar');
      else resetTime = errors.take('resetTime', checkResetTime(input.resetTime)) ?? null;
    }
  }
  if (
    errors.list.length > 0 ||
    !spec ||
    subjectId === undefined ||
    cap === undefined ||
    reset === undefined ||
    alertAt === undefined
  ) {
    return { ok: false, errors: errors.list };
  }
  return {
    ok: true,
    value: {
      subjectType: input.subjectType,
      subjectId,
      modelGroupId: input.modelGroupId,
      metric: input.metric,
      window: input.window ?? null,
      slot: spec.slot,
      reset,
      anchor,
      timezone,
      resetTime,
      cap,
      mode: input.mode ?? 'enforce',
      alertAt,
      override,
    },
  };
}

/**
 * SPEC §1: up to 5 (MAX_ALERT_THRESHOLDS, the schema's bound) distinct fractions in (0, 1] of
 * the bucket's effective limit; kept ascending.
 */
export function checkAlertAt(values: number[]): Check<number[]> {
  if (values.some((v) => !(v > 0 && v <= 1)))
    return fail('each threshold must be a fraction in (0, 1], e.g. 0.8 for 80 %');
  if (new Set(values).size !== values.length) return fail('thresholds must be distinct');
  return pass([...values].sort((a, b) => a - b));
}

/** `now` (epoch ms) is the default start. */
export function validateBoost(input: BoostInput, now: number): RuleResult<BoostDraft> {
  const errors = new Errors();
  const subjectId = errors.take('subjectId', checkSubjectId(input.subjectType, input.subjectId));
  const amount = errors.take('amount', checkQuantity(input.metric, input.amount, true));
  const spec = errors.take('window', checkWindow(input.metric, input.window));
  const startsAt = given(input.startsAt) ? errors.take('startsAt', checkInstant(input.startsAt)) : now;
  const expiresAt = errors.take('expiresAt', checkInstant(input.expiresAt));
  if (given(input.reason) && !isFreeText(input.reason)) errors.add('reason', FREE_TEXT_MESSAGE);
  if (startsAt !== undefined && expiresAt !== undefined && expiresAt <= startsAt) {
    errors.add('expiresAt', 'must be after startsAt');
  }
  if (
    errors.list.length > 0 ||
    !spec ||
    subjectId === undefined ||
    amount === undefined ||
    startsAt === undefined ||
    expiresAt === undefined
  ) {
    return { ok: false, errors: errors.list };
  }
  return {
    ok: true,
    value: {
      subjectType: input.subjectType,
      subjectId,
      modelGroupId: input.modelGroupId,
      metric: input.metric,
      window: input.window ?? null,
      slot: spec.slot,
      amount,
      startsAt,
      expiresAt,
      reason: input.reason ?? null,
    },
  };
}

export function validateResetMarker(input: ResetMarkerInput): RuleResult<ResetMarkerDraft> {
  const errors = new Errors();
  const subjectId = errors.take('subjectId', checkSubjectId(input.subjectType, input.subjectId));
  const spec = errors.take('window', checkWindow(input.metric, input.window));
  if (errors.list.length > 0 || !spec || subjectId === undefined) return { ok: false, errors: errors.list };
  return {
    ok: true,
    value: {
      subjectType: input.subjectType,
      subjectId,
      modelGroupId: input.modelGroupId,
      metric: input.metric,
      window: input.window ?? null,
      slot: spec.slot,
    },
  };
}
