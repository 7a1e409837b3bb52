import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { serializerCompiler as zodSerializer } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * Response serialization: the named hot replies go through fast-json-stringify compiled
 * from their zod schema's JSON Schema (the same document OpenAPI shows), so a /check reply
 * is written field by field instead of being re-validated by zod and walked by
 * JSON.stringify; every other reply keeps the zod serializer, which validates as it encodes.
 */
export function replySerializer(hot: readonly z.ZodType[]): FastifySerializerCompiler<z.ZodType> {
  const compiled = new Set<z.ZodType>(hot);
  return (route) => {
    if (!compiled.has(route.schema)) return zodSerializer(route);
    const document = z.toJSONSchema(route.schema, { io: 'output', target: 'draft-7' });
    return fastJson(document as Parameters<typeof fastJson>[0]);
  };
}
