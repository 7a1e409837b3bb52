import { describe, expect, it } from 'vitest';
import { checkInstant, validateBoost } from '../../src/domain/limit-rules.js';
import { isFreeText, isPrintable } from '../../src/domain/text-rules.js';

describe('text rules', () => {
  it('printable: no control, format, surrogate or private-use code points', () => {
    for (const ok of ['u-42', 'z-ai/glm-5.1', 'with space', 'ü€😀']) expect(isPrintable(ok), ok).toBe(true);
    for (const bad of ['', 'a\u0000', 'tab\t', 'nl\n', 'zw\u200b', 'lone\ud800', '\u0085', '\ue000']) {
      expect(isPrintable(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('free text: anything but control characters and lone surrogates; tab and line breaks allowed', () => {
    for (const ok of ['', 'line 1\nline 2', 'a\tb\r\n', '👩‍💻 zw\u200bj'])
      expect(isFreeText(ok), ok).toBe(true);
    for (const bad of ['a\u0000b', 'bell\u0007', 'esc\u001b[0m', 'del\u007f', 'nel\u0085', 'lone\udc00']) {
      expect(isFreeText(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('admin rules on text and instants', () => {
  const boost = {
    subjectType: 'user' as const,
    subjectId: 'u-1',
    modelGroupId: null,
    metric: 'requests' as const,
    window: 'daily',
    amount: 5,
    expiresAt: '2027-01-02T00:00:00Z',
  };
  const now = Date.parse('2027-01-01T00:00:00Z');

  it('refuses a boost reason with a control character', () => {
    const result = validateBoost({ ...boost, reason: 'launch\u0000' }, now);
    expect(result.ok ? [] : result.errors.map((e) => e.field)).toEqual(['reason']);
    expect(validateBoost({ ...boost, reason: 'launch\nweek' }, now).ok).toBe(true);
  });

  it('takes instants from year 0001 to 9999 in UTC only', () => {
    expect(checkInstant('0001-01-01T00:00:00Z').ok).toBe(true);
    expect(checkInstant('9999-12-31T23:59:59.999Z').ok).toBe(true);
    for (const text of ['0000-01-01T00:00:00Z', '0001-01-01T00:59:59+01:00', '9999-12-31T23:00:00-01:00']) {
      expect(checkInstant(text).ok, text).toBe(false);
    }
  });
});
