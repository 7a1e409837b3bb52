import { countedBySeed, type SeedWatermark, type SettleInput, type SubjectSeed } from '../counter-store.js';
import { seedWrites, type SeedWrite } from '../seed-writes.js';
import { TTL_MARGIN_MS } from '../store-constants.js';
import type { SubjectData, Usage } from './subject-data.js';

/**
 * seed.lua in process: each bucket is written only while its warm flag is absent, and its
 * flag keeps the seed's watermark (what the rebuild's read counted).
 */
export function applySeed(data: SubjectData, seed: SubjectSeed): void {
  for (const plan of seedWrites(seed)) {
    if (data.warm.has(plan.field)) continue;
    const usage = usageOf(plan, seed.now);
    if (usage) data.usage.set(plan.field, usage);
    else data.usage.delete(plan.field);
    data.active.set(plan.field, new Map(plan.active));
    forgetOtherSignatures(data, plan.field);
    data.warm.set(plan.field, seed.watermark);
  }
}

function usageOf(plan: SeedWrite, now: number): Usage | undefined {
  const c = plan.bucket.counting;
  switch (c.mode) {
    case 'log':
      return { mode: 'log', events: plan.events, dropAt: now + c.lengthMs + TTL_MARGIN_MS };
    case 'slices':
      return {
        mode: 'slices',
        slices: new Map(plan.slices),
        dropAt: now + c.lengthMs + c.sliceMs + TTL_MARGIN_MS,
      };
    case 'window':
      if (!plan.counter) return undefined;
      return { mode: 'window', ...plan.counter, dropAt: c.end === null ? null : c.end + TTL_MARGIN_MS };
    case 'first_use':
      if (!plan.counter) return undefined;
      return { mode: 'first_use', ...plan.counter, dropAt: plan.counter.start + c.lengthMs + TTL_MARGIN_MS };
    case 'concurrency':
      return undefined;
  }
}

/** Flags (and usage) of the same bucket under an older signature are never read again. */
function forgetOtherSignatures(data: SubjectData, field: string): void {
  const prefix = field.slice(0, field.indexOf('#') + 1);
  for (const other of data.warm.keys()) {
    if (other !== field && other.startsWith(prefix)) {
      data.warm.delete(other);
      data.usage.delete(other);
      data.active.delete(other);
    }
  }
}

/** Whether the seed that wrote a bucket (its flag's watermark) already counted this settle. */
export function seededWith(watermark: SeedWatermark | null | undefined, input: SettleInput): boolean {
  if (!watermark || !input.ledgerXid) return false;
  return countedBySeed(watermark, input.requestId, input.ledgerXid);
}
