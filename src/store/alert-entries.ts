import type { StoredAlert } from './counter-store.js';
import { decodeId, encodeId } from './ids.js';

/**
 * One stored alert as settle.lua writes it and the in-process store mirrors it:
 * 'context thresholdIndex used resetAt|- requestId(base64url) now' (thresholdIndex 1-based).
 */
export function parseAlert(raw: string): StoredAlert | null {
  const [context, index, used, resetAt, requestId, at] = raw.split(' ');
  const numbers = [index, used, at].map(Number);
  if (!context || !requestId || resetAt === undefined || numbers.some((n) => !Number.isSafeInteger(n)))
    return null;
  const [threshold, usedAfter, when] = numbers as [number, number, number];
  return {
    raw,
    context,
    threshold: threshold - 1,
    used: usedAfter,
    resetAt: resetAt === '-' ? null : Number(resetAt),
    requestId: decodeId(requestId),
    at: when,
  };
}

export function formatAlert(alert: Omit<StoredAlert, 'raw'>): string {
  const reset = alert.resetAt === null ? '-' : String(alert.resetAt);
  return [alert.context, alert.threshold + 1, alert.used, reset, encodeId(alert.requestId), alert.at].join(
    ' ',
  );
}

/** Alerts of a reply or list; an entry of another shape is dropped, not guessed at. */
export const parseAlerts = (raws: readonly unknown[]): StoredAlert[] =>
  raws.flatMap((r) => {
    const alert = typeof r === 'string' ? parseAlert(r) : null;
    return alert ? [alert] : [];
  });
