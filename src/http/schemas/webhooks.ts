import { z } from 'zod';
import { freeText, timestamp } from './group-fields.js';

/** SPEC §5, §5.1: webhooks (alert receivers) and their deliveries. */
export const URL_MAX_LENGTH = 2048;

/** Not a URL at all is the url check's to report. */
function hasUserInfo(value: string): boolean {
  try {
    const url = new URL(value);
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}

const webhookUrl = z
  .url({
    protocol: /^https?$/,
    error: (issue) => `${issue.input === undefined ? 'required:' : 'must be'} an absolute http or https URL`,
  })
  .max(URL_MAX_LENGTH)
  // A password in the URL would be kept, shown by every read and audited: refused outright.
  .refine((v) => !hasUserInfo(v), 'must not contain a user name or password (user:password@)')
  .describe(
    `Where events are POSTed: an absolute http or https URL without user:password@, at most ${URL_MAX_LENGTH} characters`,
  )
  .meta({ examples: ['https://alerts.example.com/quotagate'] });

const description = freeText(1000);

const enabled = z
  .boolean()
  .describe('Disabled: no new events are enqueued for it and its pending deliveries pause');

export const createWebhookBody = z
  .strictObject({
    url: webhookUrl,
    description: description.nullish(),
    enabled: enabled.optional().describe('Default true'),
  })
  .meta({
    id: 'CreateWebhookRequest',
    examples: [{ url: 'https://alerts.example.com/quotagate', description: 'on-call channel' }],
  });

export const updateWebhookBody = z
  .strictObject({
    url: webhookUrl.optional(),
    description: description.nullable().optional().describe('New description; null clears it'),
    enabled: enabled.optional(),
  })
  .refine(
    (b) => b.url !== undefined || b.description !== undefined || b.enabled !== undefined,
    'url, description or enabled is required',
  )
  .meta({ id: 'UpdateWebhookRequest', examples: [{ enabled: false }] });

export const webhookSchema = z
  .object({
    id: z.number().int().describe('Webhook id'),
    url: z.string().describe('Where events are POSTed'),
    description: z.string().nullable(),
    enabled: z.boolean(),
    createdAt: timestamp('When the webhook was created'),
    updatedAt: timestamp('When it last changed'),
  })
  .meta({ id: 'Webhook', description: 'An alert receiver; its secret is never shown after creation' });

export const createdWebhookSchema = webhookSchema
  .extend({
    secret: z
      .string()
      .describe(
        'Signing secret (`whsec_` + base64), shown in this answer only: verify deliveries with it (Standard Webhooks)',
      ),
  })
  .meta({
    id: 'CreatedWebhook',
    examples: [
      {
        id: 1,
        url: 'https://alerts.example.com/quotagate',
        description: 'on-call channel',
        enabled: true,
        createdAt: '2027-01-04T12:00:00.000Z',
        updatedAt: '2027-01-04T12:00:00.000Z',
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      },
    ],
  });

export const webhookList = z
  .object({ items: z.array(webhookSchema).describe('Every webhook, by id') })
  .meta({ id: 'WebhookList' });

const deliveryStatus = z
  .enum(['pending', 'delivered', 'failed'])
  .describe('pending: not yet answered with a 2xx (retrying); delivered; failed: the retry window passed');

export const deliveriesQuery = z.strictObject({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(50)
    .describe('How many deliveries, newest first (1–1000)'),
  status: deliveryStatus.optional().describe('Only deliveries in this state'),
});

export const deliverySchema = z
  .object({
    id: z.number().int().describe('Delivery id'),
    eventId: z.string().describe('The event id, sent as `webhook-id` on every attempt'),
    eventType: z.string().describe('quota.threshold_crossed or webhook.test'),
    status: deliveryStatus,
    attempts: z.number().int().describe('Attempts started so far'),
    lastStatusCode: z.number().int().nullable().describe('HTTP status of the last answer; null if none came'),
    lastError: z
      .string()
      .nullable()
      .describe('Why the last attempt failed (e.g. `HTTP 500`, a timeout, a connection error)'),
    lastAttemptAt: timestamp('When the last attempt started').nullable(),
    nextAttemptAt: timestamp('When the next attempt is due; null once delivered or failed').nullable(),
    createdAt: timestamp('When the event was enqueued for this webhook'),
    deliveredAt: timestamp('When a 2xx answer arrived').nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

export const deliveryList = z
  .object({ items: z.array(deliverySchema).describe('Newest first') })
  .meta({ id: 'WebhookDeliveryList' });

export const testEventAccepted = z
  .object({ eventId: z.string().describe('Id of the enqueued webhook.test event (its `webhook-id`)') })
  .meta({ id: 'WebhookTestAccepted' });
