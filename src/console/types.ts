import type { components } from '../client/generated/quotagate.js';

/**
 * The admin API's shapes the console reads, taken from the types generated from
 * openapi/openapi.json (npm run client:types), so they cannot drift from the API.
 */
type Schemas = components['schemas'];

export type ModelGroup = Schemas['ModelGroup'];
export type UserGroup = Schemas['UserGroupSummary'];
export type Limit = Schemas['Limit'];
export type Boost = Schemas['Boost'];
export type ResetMarker = Schemas['ResetMarker'];
export type Webhook = Schemas['Webhook'];
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type AuditEntry = Schemas['AuditEntry'];
export type Bucket = Schemas['BucketState'];
export type Usage = Schemas['Usage'];

export interface Items<T> {
  items: T[];
}

/** For the metric select: every metric the API takes (checked against its type). */
export const METRICS = [
  'cost',
  'requests',
  'sessions',
  'concurrency',
  'input_tokens',
  'output_tokens',
  'tokens',
] as const satisfies readonly Limit['metric'][];
