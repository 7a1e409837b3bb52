/**
 * A typed admin script: types generated from openapi/openapi.json (`npm run example:types`,
 * openapi-typescript), calls made with openapi-fetch. It sets up what an operator sets up
 * first — a model group, a user group, per-member limits and a launch-week boost — then reads
 * a member's usage the way a gateway's "quota left" screen would.
 *
 *   QUOTAGATE_URL=http://localhost:8080 QUOTAGATE_ADMIN_TOKEN=… QUOTAGATE_SERVICE_TOKEN=… \
 *     npx tsx examples/admin-client.ts
 */
import createClient from 'openapi-fetch';
import type { paths } from './generated/quotagate.js';

const baseUrl = process.env.QUOTAGATE_URL ?? 'http://localhost:8080';
const bearer = (name: string) => ({ authorization: `Bearer ${process.env[name] ?? ''}` });
const admin = createClient<paths>({ baseUrl, headers: bearer('QUOTAGATE_ADMIN_TOKEN') });
const gateway = createClient<paths>({ baseUrl, headers: bearer('QUOTAGATE_SERVICE_TOKEN') });

/** openapi-fetch returns `{data}` or `{error}` (the problem document); stop on the latter. */
function must<T>(step: string, result: { data?: T; error?: unknown }): T {
  if (result.data === undefined) throw new Error(`${step} failed: ${JSON.stringify(result.error)}`);
  console.log(`✓ ${step}`);
  return result.data;
}

const group = must(
  'model group "opus"',
  await admin.POST('/admin/model-groups', {
    body: { name: 'opus', description: 'Claude Opus family', models: ['claude-opus-4-1'] },
  }),
);

const team = must('user group "pro"', await admin.POST('/admin/user-groups', { body: { name: 'pro' } }));
must(
  'members u-42 and u-43',
  await admin.POST('/admin/user-groups/{id}/members', {
    params: { path: { id: team.id } },
    body: { userIds: ['u-42', 'u-43'] },
  }),
);

// Per member: $10 per rolling 5 hours on opus, 60 requests per minute on any model.
const limits = [
  { modelGroupId: group.id, metric: 'cost' as const, window: '5h', limit: 10 },
  { modelGroupId: null, metric: 'requests' as const, window: '1m', limit: 60 },
];
for (const limit of limits) {
  must(
    `limit ${limit.metric} ${limit.window}`,
    await admin.PUT('/admin/limits', {
      body: { subjectType: 'user_group', subjectId: String(team.id), ...limit },
    }),
  );
}

const boost = must(
  'launch-week boost for u-42 (+$5 on opus, 5h)',
  await admin.POST('/admin/boosts', {
    body: {
      subjectType: 'user',
      subjectId: 'u-42',
      modelGroupId: group.id,
      metric: 'cost',
      window: '5h',
      amount: 5,
      expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      reason: 'launch week',
    },
  }),
);
if (boost.warnings.length > 0) console.log(`  warnings: ${boost.warnings.join('; ')}`);

const usage = must(
  'usage of u-42 on claude-opus-4-1',
  await gateway.GET('/usage', { params: { query: { userId: 'u-42', model: 'claude-opus-4-1' } } }),
);
for (const bucket of usage.buckets) {
  console.log(
    `  ${bucket.key}: used ${bucket.used} of ${bucket.effectiveLimit} (cap ${bucket.limit} + boost ${bucket.boost})`,
  );
}
