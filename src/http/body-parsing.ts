import type { FastifyInstance } from 'fastify';
import { invalid, type AppError } from '../domain/errors.js';

/**
 * Bodies are JSON or nothing: every other media type (text/plain included, which Fastify
 * would hand to the schema as a string) is 415 unsupported_media_type. A JSON body with a
 * `__proto__` key or a `constructor.prototype` is refused by Fastify's parser as if it
 * were malformed; this one names the key instead (400 validation_failed).
 */
export function registerBodyParsing(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  const strict = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    strict(request, text, (err, value) => {
      if (!err) return done(null, value);
      // The refusal is rare: only then is the text parsed again to tell poison from bad syntax.
      done(poisonIn(text) ?? err, undefined);
    });
  });
}

/** The first forbidden key of a body that is otherwise valid JSON, as a field error. */
function poisonIn(text: string): AppError | null {
  let parsed: unknown;
  try {
    // JSON.parse defines `__proto__` as an own key; it never sets a prototype.
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const field = forbiddenPath(parsed);
  return field === null ? null : invalid(field, 'is not allowed');
}

interface Visit {
  node: unknown;
  key: string;
  parent: Visit | null;
}

function pathOf(visit: Visit, last: string[]): string {
  const keys: string[] = [];
  for (let at: Visit | null = visit; at?.parent; at = at.parent) keys.push(at.key);
  return [...keys.reverse(), ...last].join('.');
}

/** Breadth-first with parent links, as Fastify's own check: a deeply nested body costs no stack. */
function forbiddenPath(root: unknown): string | null {
  const has = (value: object, key: string) => Object.prototype.hasOwnProperty.call(value, key);
  let level: Visit[] = [{ node: root, key: '', parent: null }];
  while (level.length > 0) {
    const next: Visit[] = [];
    for (const visit of level) {
      const { node } = visit;
      if (node === null || typeof node !== 'object') continue;
      if (has(node, '__proto__')) return pathOf(visit, ['__proto__']);
      const ctor: unknown = has(node, 'constructor') ? (node as { constructor: unknown }).constructor : null;
      if (ctor !== null && typeof ctor === 'object' && has(ctor, 'prototype')) {
        return pathOf(visit, ['constructor', 'prototype']);
      }
      for (const [key, value] of Object.entries(node)) next.push({ node: value, key, parent: visit });
    }
    level = next;
  }
  return null;
}
