import { DateTime } from 'luxon';
import { z } from 'zod';
import { parseAllowedHosts } from './alerts/allowed-hosts.js';

/**
 * The only reader of process.env. Every setting of SPEC §6 (plus a few operational ones),
 * each described; `.env.example` is checked against this schema by a test.
 */
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional())
  .optional();

/** One URL, or comma-separated URLs (cluster seeds); a list without REDIS_CLUSTER is refused below. */
const urlList = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(
    z
      .string()
      .refine((v) => v.split(',').every((part) => z.url().safeParse(part.trim()).success), 'Invalid URL')
      .optional(),
  )
  .optional();

export const tokenListSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const parsed = parseTokenList(v);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

export const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .describe('production refuses to start without ADMIN_TOKENS and SERVICE_TOKENS'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port'),
  HOST: z.string().default('0.0.0.0').describe('Interface to listen on'),
  DATABASE_URL: optionalUrl.describe(
    'PostgreSQL connection string; unset runs embedded PostgreSQL (PGlite) under DATA_DIR',
  ),
  REDIS_URL: urlList.describe(
    'Redis connection string; unset uses the in-process counter store (single instance only). With REDIS_CLUSTER=true: comma-separated seed nodes',
  ),
  REDIS_CLUSTER: bool(false).describe(
    'REDIS_URL lists seed nodes of a Redis Cluster (SPEC §8): keys spread over its masters by subject',
  ),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,32}$/)
    .default('qg')
    .describe('Prefix of every Redis key and channel, so several deployments can share one Redis'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./.quotagate')
    .describe('Where the embedded PostgreSQL keeps its data, and generated tokens (tokens.json, mode 0600)'),
  ADMIN_TOKENS: tokenListSchema.describe('Comma-separated admin tokens, each `token` or `name:token`'),
  SERVICE_TOKENS: tokenListSchema.describe('Comma-separated service tokens, each `token` or `name:token`'),
  FAIL_MODE: z
    .enum(['open', 'closed'])
    .default('open')
    .describe('open: admit with failOpen=true when Redis is down; closed: answer 503'),
  STORE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1)
    .max(60_000)
    .default(250)
    .describe('Upper bound of one Redis call'),
  RESERVATION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(600)
    .describe('Default hold lifetime of a reservation'),
  SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(31_536_000)
    .default(3600)
    .describe('Default active period of a session admission'),
  DEFAULT_TIMEZONE: z
    .string()
    .default('UTC')
    .refine((tz) => DateTime.local().setZone(tz).isValid, 'must be an IANA time zone name')
    .describe('Time zone of calendar windows that name none'),
  CONFIG_POLL_SECONDS: z.coerce
    .number()
    .min(0.05)
    .max(3600)
    .default(5)
    .describe('How often each instance polls the config version (pub/sub may lose messages)'),
  AUTO_MIGRATE: bool(true).describe('Apply migrations at start'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level'),
  QUOTA_TEST_CLOCK: bool(false).describe('Honour the X-Quota-Test-Now header (tests only)'),
  SHADOW_MODE: bool(false).describe(
    'Every bucket is a shadow bucket: evaluated, charged and reported, never refusing (SPEC §4.8)',
  ),
  AUTHZ_DENY_STATUS: z
    .enum(['401', '403', '429'])
    .default('429')
    .transform(Number)
    .describe(
      'Status of a refusal at /authz (forward auth): 429, or 403 for nginx, whose auth_request passes only 401 and 403',
    ),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10_485_760)
    .default(65_536)
    .describe('Largest accepted request body; larger is 413'),
  REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(30_000)
    .describe(
      'A request must arrive whole (headers and body) within this many ms; else 408 and the connection closes',
    ),
  WEBHOOK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(5000)
    .describe('A webhook delivery succeeds on a 2xx answer within this many milliseconds'),
  WEBHOOK_RETRY_HOURS: z.coerce
    .number()
    .positive()
    .max(8760)
    .default(24)
    .describe('How long after an event is created its deliveries are retried before they are marked failed'),
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const rules = parseAllowedHosts(v);
      if (typeof rules === 'string') {
        ctx.addIssue({ code: 'custom', message: rules });
        return z.NEVER;
      }
      return rules;
    })
    .describe(
      'Hosts webhooks may point at, comma-separated: names, *.domain, IP addresses and CIDRs (IPv4, IPv6); empty: any host',
    ),
  WEBHOOK_RETENTION_DAYS: z.coerce
    .number()
    .positive()
    .max(36_500)
    .default(30)
    .describe(
      'Delivered and failed webhook deliveries, and their events, are deleted this many days after the event',
    ),
});

export type Env = z.input<typeof envSchema>;
export type AppConfig = z.output<typeof envSchema>;

export interface Token {
  name: string;
  token: string;
}

/** Parses `a,b` or `name:token,…`; returns a message on a malformed list. */
export function parseTokenList(raw: string): Token[] | string {
  const tokens: Token[] = [];
  for (const [i, part] of raw.split(',').entries()) {
    const entry = part.trim();
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon) : `token#${i + 1}`;
    const token = colon > 0 ? entry.slice(colon + 1) : entry;
    if (token.length < 8) return `token ${name} is shorter than 8 characters`;
    tokens.push({ name, token });
  }
  return tokens.length > 0 ? tokens : 'no token in the list';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const known = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, env[k]]));
  const result = envSchema
    .refine((c) => c.REDIS_CLUSTER || !c.REDIS_URL?.includes(','), {
      path: ['REDIS_URL'],
      message: 'several URLs need REDIS_CLUSTER=true',
    })
    .safeParse(known);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}
