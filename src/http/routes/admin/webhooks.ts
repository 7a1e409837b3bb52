import type { FastifyRequest } from 'fastify';
import { HostPolicy } from '../../../alerts/allowed-hosts.js';
import * as service from '../../../alerts/webhook-service.js';
import type { DeliveryRecord } from '../../../alerts/delivery-rows.js';
import { noContent } from '../../schemas/quota-fields.js';
import { rowIdParams } from '../../schemas/row-id.js';
import {
  createWebhookBody,
  createdWebhookSchema,
  deliveriesQuery,
  deliveryList,
  testEventAccepted,
  updateWebhookBody,
  webhookList,
  webhookSchema,
} from '../../schemas/webhooks.js';
import type { ZodApp } from '../../types.js';
import { adminContext, type AdminRouteDeps } from './index.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;
const toDeliveryDto = (d: DeliveryRecord) => ({
  ...d,
  lastAttemptAt: iso(d.lastAttemptAt),
  nextAttemptAt: iso(d.nextAttemptAt),
  createdAt: d.createdAt.toISOString(),
  deliveredAt: iso(d.deliveredAt),
});

/** SPEC §5, §5.1: alert receivers, their deliveries, and a test event. */
export async function webhookRoutes(app: ZodApp, deps: AdminRouteDeps): Promise<void> {
  const params = rowIdParams('webhook');
  const hosts = new HostPolicy(deps.config.WEBHOOK_ALLOWED_HOSTS);
  // Writes that set a url check it against WEBHOOK_ALLOWED_HOSTS.
  const writer = (request: FastifyRequest) => ({ ...adminContext(deps, request), hosts });

  app.post(
    '/webhooks',
    {
      schema: {
        summary: 'Create a webhook',
        description:
          'Every threshold crossing (SPEC §5.1) is POSTed to every enabled webhook, signed per Standard ' +
          'Webhooks with the generated `secret`, which this answer shows once and no read shows again. ' +
          'A url with `user:password@`, or (with WEBHOOK_ALLOWED_HOSTS set) to a host not on that list, is a 400.',
        body: createWebhookBody,
        response: { 201: createdWebhookSchema },
      },
    },
    async (request, reply) => {
      const webhook = await service.createWebhook(writer(request), request.body, request.now);
      return reply.code(201).header('location', `/admin/webhooks/${webhook.id}`).send(webhook);
    },
  );

  app.get(
    '/webhooks',
    { schema: { summary: 'List webhooks (without secrets)', response: { 200: webhookList } } },
    async () => ({ items: await service.listWebhooks(deps.db) }),
  );

  app.get(
    '/webhooks/:id',
    { schema: { summary: 'Read a webhook (without its secret)', params, response: { 200: webhookSchema } } },
    async (request) => service.getWebhook(deps.db, request.params.id),
  );

  app.patch(
    '/webhooks/:id',
    {
      schema: {
        summary: 'Change a webhook’s url, description or enabled',
        description:
          'Disabling pauses its pending deliveries; enabling resumes those still in their retry window.',
        params,
        body: updateWebhookBody,
        response: { 200: webhookSchema },
      },
    },
    async (request) => service.updateWebhook(writer(request), request.params.id, request.body, request.now),
  );

  app.delete(
    '/webhooks/:id',
    {
      schema: {
        summary: 'Delete a webhook and its deliveries',
        params,
        response: { 204: noContent },
      },
    },
    async (request, reply) => {
      await service.deleteWebhook(adminContext(deps, request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        summary: 'Recent deliveries of a webhook, newest first',
        params,
        querystring: deliveriesQuery,
        response: { 200: deliveryList },
      },
    },
    async (request) => {
      const { limit, status } = request.query;
      const items = await service.listWebhookDeliveries(deps.db, request.params.id, limit, status);
      return { items: items.map(toDeliveryDto) };
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      schema: {
        summary: 'Send a webhook.test event to this webhook',
        description:
          'Enqueues a `webhook.test` event for this webhook only (even while it is disabled) and answers ' +
          'at once; follow it in the deliveries.',
        params,
        response: { 202: testEventAccepted },
      },
    },
    async (request, reply) => {
      const accepted = await service.sendTestEvent(
        adminContext(deps, request),
        request.params.id,
        request.now,
      );
      return reply.code(202).send(accepted);
    },
  );
}
