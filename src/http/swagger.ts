import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { setSecurityHeaders } from './security-headers.js';
import type { ZodApp } from './types.js';

export const OPENAPI_INFO = {
  title: 'quotagate',
  version: '0.1.0',
  description:
    'Quota decisions for API and LLM gateways. Decision endpoints take a service (or admin) ' +
    'bearer token; /admin takes an admin token. Errors are RFC 9457 problem documents.',
};

/** OpenAPI 3.1 from the same zod schemas that validate requests. */
export async function registerSwagger(app: ZodApp): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      components: {
        securitySchemes: {
          serviceToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'A token of SERVICE_TOKENS or ADMIN_TOKENS',
          },
          adminToken: { type: 'http', scheme: 'bearer', description: 'A token of ADMIN_TOKENS' },
          quotaToken: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Quota-Token',
            description: 'A token of SERVICE_TOKENS or ADMIN_TOKENS, as is (forward auth)',
          },
        },
      },
      tags: [
        { name: 'decisions', description: 'Check, reserve, settle and release (service token)' },
        {
          name: 'admin',
          description: 'Model groups, user groups, limits, boosts, resets, audit (admin token)',
        },
        {
          name: 'forward-auth',
          description: 'Reverse proxies ask before they forward (X-Quota-Token)',
        },
        { name: 'ops', description: 'Health, readiness, metrics (no token)' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  // In a context of its own so the hook covers every /docs route, swagger-ui's static files included.
  await app.register(async (docs) => {
    docs.addHook('onRequest', async (_request, reply) => {
      setSecurityHeaders(reply);
    });
    await docs.register(fastifySwaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
