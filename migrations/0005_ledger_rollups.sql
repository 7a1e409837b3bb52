CREATE TABLE "ledger_rollups" (
	"bucket" text NOT NULL,
	"level" text NOT NULL,
	"slice_start" timestamp with time zone NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"cost_micros" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "ledger_rollups_bucket_level_slice_start_pk" PRIMARY KEY("bucket","level","slice_start"),
	CONSTRAINT "ledger_rollups_level" CHECK ("ledger_rollups"."level" in ('minute', 'hour', 'day', 'all'))
);
--> statement-breakpoint
-- Carry an existing database forward: the rollups of every ledger row already stored,
-- counted like src/ledger/ledger-rows.ts counts new ones.
INSERT INTO "ledger_rollups" ("bucket", "level", "slice_start", "requests", "cost_micros", "input_tokens", "output_tokens")
SELECT d.bucket, l.level,
  CASE WHEN l.level = 'all' THEN timestamptz 'epoch' ELSE date_bin(l.step, d.at, timestamptz 'epoch') END,
  sum(d.requests), sum(d.cost), sum(d.input), sum(d.output)
FROM (
  SELECT b.bucket, coalesce(u.reserved_at, u.settled_at) AS at, 1 AS requests, 0::bigint AS cost, 0::bigint AS input, 0::bigint AS output
  FROM "usage_ledger" u, LATERAL (SELECT DISTINCT value FROM jsonb_array_elements_text(u.buckets)) b(bucket)
  UNION ALL
  SELECT b.bucket, u.settled_at, 0, u.cost_micros, u.input_tokens, u.output_tokens
  FROM "usage_ledger" u, LATERAL (SELECT DISTINCT value FROM jsonb_array_elements_text(u.buckets)) b(bucket)
  WHERE u.status = 'settled'
) d
CROSS JOIN (VALUES ('minute', interval '1 minute'), ('hour', interval '1 hour'), ('day', interval '1 day'), ('all', interval '1 day')) l(level, step)
GROUP BY 1, 2, 3;
