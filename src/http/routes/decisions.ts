import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { DecisionResponse } from '../../domain/decision.js';
import { bucketView } from '../../domain/decision.js';
import type { DecisionService } from '../../decisions/decision-service.js';
import type { DemandInput } from '../../decisions/demand.js';
import type { ExtendService } from '../../decisions/extend-service.js';
import type { SettleService } from '../../decisions/settle-service.js';
import { decisionOutcome, type Metrics } from '../../ops/metrics.js';
import { requireRole, type Principal } from '../auth.js';
import { problemSchema } from '../problem.js';
import {
  checkBody,
  decisionReply,
  releaseBody,
  releaseReply,
  reserveBody,
  settleBody,
  settleReply,
  usageQuery,
  usageReply,
} from '../schemas/decisions.js';
import { extendBody, extendReply } from '../schemas/extend.js';
import type { ZodApp } from '../types.js';

export interface DecisionRouteDeps {
  decisions: DecisionService;
  settles: SettleService;
  extensions: ExtendService;
  authenticate: (token: string) => Principal | null;
  metrics: Metrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The answer admitted without the counter store (FAIL_MODE=open). */
    failedOpen: boolean;
  }
}

const ERRORS = { 400: problemSchema, 401: problemSchema, 409: problemSchema, 503: problemSchema };

function demandOf(body: z.output<typeof checkBody>): DemandInput {
  return {
    userId: body.userId,
    keyId: body.keyId ?? null,
    groups: body.groups ?? [],
    model: body.model,
    estimateMicros: body.estimatedCostUsd ?? 0,
    estimatedInputTokens: body.estimatedInputTokens ?? 0,
    estimatedOutputTokens: body.estimatedOutputTokens ?? 0,
    sessionId: body.sessionId ?? null,
    sessionTtlSeconds: body.sessionTtlSeconds ?? null,
  };
}

function send(reply: FastifyReply, response: DecisionResponse) {
  reply.request.failedOpen = response.body.failOpen;
  return reply.code(response.statusCode).headers(response.headers).send(response.body);
}

/** The decision endpoints (service token; an admin token passes too). */
export async function decisionRoutes(app: ZodApp, deps: DecisionRouteDeps): Promise<void> {
  app.decorateRequest('failedOpen', false);
  // Replies here are built by src/domain/decision.ts with a fixed shape; re-validating a
  // 2.5 KB body against its zod schema cost more than resolving the buckets, and
  // fast-json-stringify compiled from it ran /check at 0.95x JSON.stringify's rate (an A/B
  // of two builds, 14 alternating turns). The schemas still document the replies (OpenAPI)
  // and the HTTP tests pin their shape.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook('onRequest', requireRole(deps.authenticate, 'service'));
  app.addHook('onResponse', async (request, reply) => {
    const endpoint = request.routeOptions.url ?? 'unknown';
    deps.metrics.decisions.inc({ endpoint, outcome: decisionOutcome(reply.statusCode, request.failedOpen) });
    deps.metrics.decisionDuration.observe({ endpoint }, reply.elapsedTime / 1000);
  });
  app.addHook('onRoute', (route) => {
    Object.assign((route.schema ??= {}), { tags: ['decisions'], security: [{ serviceToken: [] }] });
  });

  app.post(
    '/check',
    {
      schema: {
        summary: 'Dry run: would this request be admitted now? Records nothing.',
        body: checkBody,
        response: { 200: decisionReply, 429: decisionReply, ...ERRORS },
      },
    },
    async (request, reply) => send(reply, await deps.decisions.check(demandOf(request.body), request.now)),
  );

  app.post(
    '/reserve',
    {
      schema: {
        summary:
          'Admit and hold: estimate, request count, session admission and concurrency slot, atomically',
        body: reserveBody,
        response: { 200: decisionReply, 429: decisionReply, ...ERRORS },
      },
    },
    async (request, reply) => {
      const { requestId, ttlSeconds } = request.body;
      const input = { ...demandOf(request.body), requestId, ttlSeconds: ttlSeconds ?? null };
      return send(reply, await deps.decisions.reserve(input, request.now));
    },
  );

  app.post(
    '/settle',
    {
      schema: {
        summary:
          'Record the actual cost (committed to PostgreSQL before the answer); never refused for quota',
        body: settleBody,
        response: { 200: settleReply, ...ERRORS },
      },
    },
    async (request) => {
      const b = request.body;
      return deps.settles.settle(
        {
          requestId: b.requestId,
          costMicros: b.costUsd,
          inputTokens: b.inputTokens ?? 0,
          outputTokens: b.outputTokens ?? 0,
          metadata: b.metadata ?? null,
          userId: b.userId ?? null,
          keyId: b.keyId ?? null,
          model: b.model ?? null,
          groups: b.groups ?? [],
        },
        request.now,
      );
    },
  );

  app.post(
    '/release',
    {
      schema: {
        summary:
          'The upstream call did not happen: free the hold and slot (requests and sessions stay counted)',
        body: releaseBody,
        response: { 200: releaseReply, 404: problemSchema, ...ERRORS },
      },
    },
    async (request) => deps.settles.release(request.body.requestId, request.now),
  );

  app.post(
    '/extend',
    {
      schema: {
        summary: 'Keep a held reservation (its hold and concurrency slot) alive: expiry = now + ttlSeconds',
        body: extendBody,
        response: { 200: extendReply, 404: problemSchema, ...ERRORS },
      },
    },
    async (request) => deps.extensions.extend(request.body.requestId, request.body.ttlSeconds, request.now),
  );

  app.get(
    '/usage',
    {
      schema: {
        summary: 'Buckets of a user (and key) and their state, without side effects',
        querystring: usageQuery,
        response: { 200: usageReply, ...ERRORS },
      },
    },
    async (request) => {
      const { userId, keyId, model, groups } = request.query;
      const input = { userId, keyId: keyId ?? null, model: model ?? null };
      const { modelGroup, decision } = await deps.decisions.usage(
        { ...input, groups: groups ?? [] },
        request.now,
      );
      return { ...input, modelGroup, buckets: decision.verdicts.map(bucketView) };
    },
  );
}
