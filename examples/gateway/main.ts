/**
 * Runs the example gateway on GATEWAY_PORT (8090) in front of UPSTREAM_URL, or of the
 * streaming stub when it is unset:
 *
 *   QUOTAGATE_URL=http://localhost:8080 QUOTAGATE_SERVICE_TOKEN=… npm run example:gateway
 *   curl -N localhost:8090/v1/chat/completions -H 'x-user-id: u-42' -H 'content-type: application/json' \
 *     -d '{"model":"gpt-4o","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"hi"}]}'
 */
import { QuotaClient } from '../../src/client/index.js';
import { createGateway } from './gateway.js';
import { createStubUpstream, listenLocal } from './stub-upstream.js';

const env = process.env;
const quota = new QuotaClient({
  baseUrl: env.QUOTAGATE_URL ?? 'http://localhost:8080',
  token: env.QUOTAGATE_SERVICE_TOKEN ?? '',
  failMode: env.GATEWAY_FAIL_MODE === 'closed' ? 'closed' : 'open',
  onError: (error) => console.warn(error.message),
});
const upstreamUrl = env.UPSTREAM_URL ?? (await listenLocal(createStubUpstream({ chunkDelayMs: 50 })));
const gateway = createGateway({ quota, upstreamUrl, log: (message) => console.warn(message) });
const url = await listenLocal(gateway, Number(env.GATEWAY_PORT ?? 8090));
console.log(`gateway on ${url}/v1/chat/completions → ${upstreamUrl}`);
