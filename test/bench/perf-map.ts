import { readFileSync, writeFileSync } from 'node:fs';

/**
 * `npx tsx test/bench/perf-map.ts /tmp/perf-<pid>.map`: keeps, for every address, only the
 * newest entry of a `node --perf-basic-prof` map, so `perf report` names a hot function by
 * what ran there during the measured window. V8 frees and reuses code space, and perf takes
 * the first entry covering an address: without this, code compiled during seeding (long
 * gone) gets credited with /check's samples. README "Benchmark" says how it is used.
 */
interface Entry {
  start: number;
  end: number;
  line: string;
}

function parse(text: string): Entry[] {
  return text.split('\n').flatMap((line) => {
    const [start, size] = line.split(' ', 2);
    if (start === undefined || size === undefined) return [];
    const from = parseInt(start, 16);
    const length = parseInt(size, 16);
    return Number.isFinite(from) && Number.isFinite(length)
      ? [{ start: from, end: from + length, line }]
      : [];
  });
}

/** Newest first; an entry is kept only where no newer kept entry covers any of its addresses. */
function newestOnly(entries: readonly Entry[]): Entry[] {
  const kept: Entry[] = []; // sorted by start, never overlapping
  const insertAt = (start: number) => {
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((kept[mid]?.start ?? 0) < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as Entry;
    const at = insertAt(e.start);
    const before = kept[at - 1];
    const after = kept[at];
    if ((before && before.end > e.start) || (after && after.start < e.end)) continue;
    kept.splice(at, 0, e);
  }
  return kept;
}

const file = process.argv[2];
if (!file) throw new Error('usage: tsx test/bench/perf-map.ts /tmp/perf-<pid>.map');
const entries = parse(readFileSync(file, 'utf8'));
const kept = newestOnly(entries);
writeFileSync(file, kept.map((e) => e.line).join('\n') + '\n');
process.stderr.write(`perf-map: ${entries.length} entries → ${kept.length}\n`);
