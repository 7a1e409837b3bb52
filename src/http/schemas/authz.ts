import { z } from 'zod';
import { modelId, userId } from './group-fields.js';
import { opaque, requestId, usageQuery, usd } from './decisions.js';

/**
 * The request of /authz (SPEC §7.1) as headers: a reverse proxy sends no body. The service
 * token comes in X-Quota-Token (src/http/auth.ts). An empty header counts as absent
 * (src/http/routes/authz.ts): proxies fill a missing variable with ''.
 */
export const QUOTA_HEADERS = [
  'x-quota-user',
  'x-quota-key',
  'x-quota-groups',
  'x-quota-model',
  'x-quota-session',
  'x-quota-estimated-cost',
  'x-request-id',
] as const;

export const authzHeaders = z.object({
  'x-quota-user': userId.describe('User id (required): 1–256 printable characters'),
  'x-quota-key': opaque('API key id; belongs to the user').optional(),
  'x-quota-groups': usageQuery.shape.groups.describe(
    'Comma-separated user-group names the proxy knows the user belongs to; unknown names are ignored',
  ),
  'x-quota-model': modelId
    .optional()
    .describe('Model id exactly as the gateway sends it; absent: only "all models" limits apply'),
  'x-quota-session': opaque('Session id: sessions limits count distinct admissions').optional(),
  'x-quota-estimated-cost': usd('Estimated cost in USD, checked against cost buckets, never held').optional(),
  'x-request-id': requestId
    .optional()
    .describe('The request id a later /settle names; absent: one is generated (X-Quota-Request-Id)'),
});

export const authzAdmitted = z
  .null()
  .describe(
    'Admitted: empty body; X-Quota-Request-Id, the RateLimit headers, and X-Quota-Fail-Open: true when ' +
      'admitted without the counter store (FAIL_MODE=open)',
  );
