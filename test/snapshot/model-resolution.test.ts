import { describe, expect, it } from 'vitest';
import { MAX_MODEL_RESOLUTIONS, buildSnapshot, type SnapshotRows } from '../../src/snapshot/snapshot.js';

const rows = (modelMembers: SnapshotRows['modelMembers']): SnapshotRows => ({
  version: 1,
  modelGroups: [
    { id: 1, name: 'opus' },
    { id: 2, name: 'pinned' },
  ],
  modelMembers,
  userGroups: [],
  userMembers: [],
  limits: [],
  boosts: [],
  resetMarkers: [],
});

describe('a snapshot resolving models (SPEC §9.4)', () => {
  const snapshot = buildSnapshot(
    rows([
      { model: 'claude-opus-*', modelGroupId: 1 },
      { model: 'claude-opus-4-1', modelGroupId: 2 },
      { model: 'ghost-*', modelGroupId: 99 },
    ]),
    0,
  );

  it('resolves by exact id, else by pattern, and names the entry that matched', () => {
    expect(snapshot.resolveModel('claude-opus-4-1')).toEqual({
      group: { id: 2, name: 'pinned' },
      matchedBy: 'claude-opus-4-1',
    });
    expect(snapshot.resolveModel('claude-opus-4-5')).toEqual({
      group: { id: 1, name: 'opus' },
      matchedBy: 'claude-opus-*',
    });
    expect(snapshot.modelGroupOf('claude-opus-4-5')).toEqual({ id: 1, name: 'opus' });
    expect(snapshot.modelGroupOf('claude-sonnet-4')).toBeNull();
  });

  it('ignores an entry whose group it does not hold', () => {
    expect(snapshot.modelGroupOf('ghost-1')).toBeNull();
  });

  it('answers a model it resolved before from its cache, the same object', () => {
    const first = snapshot.resolveModel('claude-opus-4-7');
    expect(snapshot.resolveModel('claude-opus-4-7')).toBe(first);
  });

  it('forgets its resolutions once a stream of distinct names reaches the bound', () => {
    const kept = snapshot.resolveModel('claude-opus-kept');
    for (let i = 0; i < MAX_MODEL_RESOLUTIONS; i++) snapshot.modelGroupOf(`flood-${i}`);
    const again = snapshot.resolveModel('claude-opus-kept');
    expect(again).not.toBe(kept);
    expect(again).toEqual(kept);
  });

  it('keeps answering correctly past its cache bound under a stream of distinct names', () => {
    for (let i = 0; i < MAX_MODEL_RESOLUTIONS * 2 + 7; i++) {
      const hostile = `junk-${i}`;
      expect(snapshot.modelGroupOf(hostile)).toBeNull();
      if (i % 997 === 0) expect(snapshot.modelGroupOf(`claude-opus-x${i}`)?.id).toBe(1);
    }
    expect(snapshot.resolveModel('claude-opus-4-1')?.matchedBy).toBe('claude-opus-4-1');
  });
});
