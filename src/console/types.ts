/** The subset of the admin API's shapes the console reads (openapi/openapi.json). */

export const METRICS = [
  'cost',
  'requests',
  'sessions',
  'concurrency',
  'input_tokens',
  'output_tokens',
  'tokens',
] as const;

export interface ModelGroup {
  id: number;
  name: string;
  description: string | null;
  models: string[];
}
export interface UserGroup {
  id: number;
  name: string;
  description: string | null;
  memberCount: number;
}
export interface Limit {
  id: number;
  subjectType: string;
  subjectId: string;
  modelGroupId: number | null;
  metric: string;
  window: string | null;
  reset: string | null;
  limit: number;
  mode: 'enforce' | 'shadow';
  alertAt: number[];
}
export interface Boost {
  id: number;
  subjectType: string;
  subjectId: string;
  modelGroupId: number | null;
  metric: string;
  window: string | null;
  amount: number;
  startsAt: string;
  expiresAt: string;
  reason: string | null;
}
export interface ResetMarker {
  id: number;
  subjectType: string;
  subjectId: string;
  modelGroupId: number | null;
  metric: string;
  window: string | null;
  resetAt: string;
}
export interface Webhook {
  id: number;
  url: string;
  description: string | null;
  enabled: boolean;
  createdAt: string;
}
export interface WebhookDelivery {
  id: number;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
}
export interface AuditEntry {
  id: number;
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  at: string;
}
export interface Bucket {
  key: string;
  axis: string;
  ownerId: string;
  modelGroupId: number | null;
  metric: string;
  window: string | null;
  reset: string | null;
  limit: number;
  boost: number;
  effectiveLimit: number;
  used: number;
  held: number;
  remaining: number;
  resetAt: string | null;
  nextFreeAt: string | null;
  exceeded: boolean;
  shadow: boolean;
}
export interface Usage {
  userId: string;
  keyId: string | null;
  model: string | null;
  modelGroup: { id: number; name: string } | null;
  buckets: Bucket[];
}
export interface Items<T> {
  items: T[];
}
