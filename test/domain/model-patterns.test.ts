import { describe, expect, it } from 'vitest';
import {
  buildModelIndex,
  candidateEntries,
  isModelPattern,
  modelEntryProblem,
} from '../../src/domain/model-patterns.js';

const index = (entries: Record<string, string>) => buildModelIndex(Object.entries(entries));

describe('model resolution (SPEC §9.4)', () => {
  it('resolves a model to the group holding its exact id', () => {
    expect(index({ 'claude-opus-4-1': 'opus' }).resolve('claude-opus-4-1')).toEqual({
      group: 'opus',
      matchedBy: 'claude-opus-4-1',
    });
  });

  it('lets an exact id beat any pattern, even a longer one', () => {
    const groups = index({
      'claude-opus-*': 'family',
      'claude-opus-4-1*': 'longer',
      'claude-opus-4-1': 'pinned',
    });
    expect(groups.resolve('claude-opus-4-1')).toEqual({ group: 'pinned', matchedBy: 'claude-opus-4-1' });
  });

  it('resolves a model named nowhere to the pattern it matches', () => {
    expect(index({ 'claude-opus-*': 'opus' }).resolve('claude-opus-4-5-20260101')).toEqual({
      group: 'opus',
      matchedBy: 'claude-opus-*',
    });
  });

  it('lets the longest matching pattern win, whatever the order of the entries', () => {
    const entries: [string, string][] = [
      ['claude-*', 'claude'],
      ['claude-opus-4-*', 'opus-4'],
      ['claude-opus-*', 'opus'],
    ];
    for (const order of [entries, [...entries].reverse()]) {
      const groups = buildModelIndex(order);
      expect(groups.resolve('claude-opus-4-5')).toEqual({ group: 'opus-4', matchedBy: 'claude-opus-4-*' });
      expect(groups.resolve('claude-opus-3')).toEqual({ group: 'opus', matchedBy: 'claude-opus-*' });
      expect(groups.resolve('claude-haiku')).toEqual({ group: 'claude', matchedBy: 'claude-*' });
    }
  });

  it('matches the text before the * alone', () => {
    expect(index({ 'claude-opus-*': 'opus' }).resolve('claude-opus-')).toEqual({
      group: 'opus',
      matchedBy: 'claude-opus-*',
    });
  });

  it('answers null when no id or pattern matches', () => {
    const groups = index({ 'claude-opus-*': 'opus', 'gpt-4o': 'gpt' });
    for (const model of ['claude-opus', 'Claude-opus-4', 'gpt-4o-mini', 'xclaude-opus-4']) {
      expect(groups.resolve(model), model).toBeNull();
    }
    expect(index({}).resolve('anything')).toBeNull();
  });

  it('treats a bare * as a catch-all that every id and longer pattern beats', () => {
    const groups = index({ '*': 'all', 'gpt-*': 'gpt', o3: 'o3' });
    expect(groups.resolve('mistral-large')).toEqual({ group: 'all', matchedBy: '*' });
    expect(groups.resolve('gpt-5')).toEqual({ group: 'gpt', matchedBy: 'gpt-*' });
    expect(groups.resolve('o3')).toEqual({ group: 'o3', matchedBy: 'o3' });
  });

  it('resolves a model that itself ends in * by patterns only, like any other model', () => {
    expect(index({ 'claude-*': 'claude' }).resolve('claude-opus-*')).toEqual({
      group: 'claude',
      matchedBy: 'claude-*',
    });
    expect(index({ 'claude-opus-*': 'opus' }).resolve('claude-opus-*')).toEqual({
      group: 'opus',
      matchedBy: 'claude-opus-*',
    });
  });

  it('compares case-sensitively and by whole characters', () => {
    const groups = index({ 'GLM-*': 'upper', 'z-ai/😀*': 'emoji' });
    expect(groups.resolve('glm-5')).toBeNull();
    expect(groups.resolve('z-ai/😀-1')).toEqual({ group: 'emoji', matchedBy: 'z-ai/😀*' });
    expect(groups.resolve('z-ai/😁')).toBeNull();
  });
});

describe('model entries', () => {
  it('accepts ids and patterns with one * at the end', () => {
    for (const ok of ['claude-opus-4-1', 'claude-opus-*', '*', 'z-ai/glm-*']) {
      expect(modelEntryProblem(ok), ok).toBeNull();
    }
    expect(isModelPattern('claude-opus-*')).toBe(true);
    expect(isModelPattern('claude-opus-4-1')).toBe(false);
  });

  it('refuses a * anywhere but at the end, or twice', () => {
    for (const bad of ['claude-*-opus', '*-opus', 'claude-opus-**', '**', 'a*b*']) {
      expect(modelEntryProblem(bad), bad).toMatch(/\*/);
    }
  });

  it('lists every entry that could match a model: its id, then its prefixes as patterns, longest first', () => {
    expect(candidateEntries('ab')).toEqual(['ab', 'ab*', 'a*', '*']);
    // Never half a surrogate pair: no stored entry can end there.
    expect(candidateEntries('a😀')).toEqual(['a😀', 'a😀*', 'a*', '*']);
  });

  it('finds the same answer from its candidates as from every entry', () => {
    const all: [string, string][] = [
      ['claude-*', 'claude'],
      ['claude-opus-*', 'opus'],
      ['claude-opus-4-1', 'pinned'],
      ['gpt-*', 'gpt'],
    ];
    const full = buildModelIndex(all);
    for (const model of ['claude-opus-4-1', 'claude-opus-4-5', 'claude-haiku', 'gpt-5', 'mistral']) {
      const wanted = new Set(candidateEntries(model));
      const narrowed = buildModelIndex(all.filter(([entry]) => wanted.has(entry)));
      expect(narrowed.resolve(model), model).toEqual(full.resolve(model));
    }
  });
});
