-- The ledger partitioned by month of recorded_at (when a row was first written; never
-- updated), so an old month can be detached without touching hot ones. drizzle-kit cannot
-- express partitioning: this file is hand-written; src/db/schema.ts declares the columns.
-- Existing rows keep their ids and get recorded_at = settled_at.
ALTER TABLE "usage_ledger" RENAME TO "usage_ledger_unpartitioned";--> statement-breakpoint
ALTER TABLE "usage_ledger_unpartitioned" RENAME CONSTRAINT "usage_ledger_pkey" TO "usage_ledger_unpartitioned_pkey";--> statement-breakpoint
ALTER TABLE "usage_ledger_unpartitioned" DROP CONSTRAINT "usage_ledger_request_id_unique";--> statement-breakpoint
DROP INDEX "usage_ledger_user_time_idx";--> statement-breakpoint
DROP INDEX "usage_ledger_key_time_idx";--> statement-breakpoint
DROP INDEX "usage_ledger_buckets_idx";--> statement-breakpoint
CREATE TABLE "usage_ledger" (
	"id" bigint DEFAULT nextval('usage_ledger_id_seq') NOT NULL,
	"request_id" text NOT NULL,
	"user_id" text NOT NULL,
	"key_id" text,
	"model" text NOT NULL,
	"model_group_id" integer,
	"cost_micros" bigint NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"counted_in_user_global" boolean NOT NULL,
	"counted_in_key_global" boolean NOT NULL,
	"buckets" jsonb NOT NULL,
	"status" text DEFAULT 'settled' NOT NULL,
	"reserved_at" timestamp with time zone,
	"settled_at" timestamp with time zone NOT NULL,
	"metadata" jsonb,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_ledger_id_recorded_at_pk" PRIMARY KEY("id","recorded_at"),
	CONSTRAINT "usage_ledger_cost_nonnegative" CHECK ("usage_ledger"."cost_micros" >= 0),
	CONSTRAINT "usage_ledger_tokens_nonnegative" CHECK ("usage_ledger"."input_tokens" >= 0 and "usage_ledger"."output_tokens" >= 0),
	CONSTRAINT "usage_ledger_status" CHECK ("usage_ledger"."status" in ('settled', 'released'))
) PARTITION BY RANGE ("recorded_at");--> statement-breakpoint
ALTER SEQUENCE "usage_ledger_id_seq" OWNED BY "usage_ledger"."id";--> statement-breakpoint
-- Request-id uniqueness across every partition (a partitioned table's unique keys must hold
-- recorded_at): the settle gate. A row here outlives a detached month, so a late duplicate
-- settle of an archived request is still refused.
CREATE TABLE "ledger_request_ids" (
	"request_id" text PRIMARY KEY NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL
);--> statement-breakpoint
CREATE INDEX "ledger_request_ids_recorded_at_idx" ON "ledger_request_ids" USING btree ("recorded_at");--> statement-breakpoint
CREATE TABLE "usage_ledger_default" PARTITION OF "usage_ledger" DEFAULT;--> statement-breakpoint
-- The partition of the UTC month holding `month_of`, created if missing; false (nothing done)
-- when DEFAULT already holds rows of that month: creating it would fail the whole call.
CREATE OR REPLACE FUNCTION quotagate_ledger_partition(month_of timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := date_trunc('month', month_of, 'UTC');
  -- Month arithmetic in UTC: on timestamptz it follows the session's time zone.
  hi timestamptz := ((lo AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  part text := 'usage_ledger_' || to_char(lo AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
BEGIN
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN true;
  END IF;
  IF EXISTS (SELECT 1 FROM usage_ledger_default WHERE recorded_at >= lo AND recorded_at < hi) THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF usage_ledger FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  RETURN true;
EXCEPTION
  -- A row reached DEFAULT between the check and the create.
  WHEN check_violation THEN RETURN false;
END;
$$;--> statement-breakpoint
-- The partitions of the month holding `from_time` and the `ahead_months` after it. Answers the
-- months it created or skipped (DEFAULT holds rows of them); months already there are not listed.
CREATE OR REPLACE FUNCTION quotagate_ledger_partitions(ahead_months int, from_time timestamptz DEFAULT now())
RETURNS TABLE (partition_name text, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamptz;
BEGIN
  FOR i IN 0 .. ahead_months LOOP
    month_start := (date_trunc('month', from_time AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC';
    partition_name := 'usage_ledger_' || to_char(month_start AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
    CONTINUE WHEN to_regclass(quote_ident(partition_name)) IS NOT NULL;
    created := quotagate_ledger_partition(month_start);
    RETURN NEXT;
  END LOOP;
END;
$$;--> statement-breakpoint
SELECT quotagate_ledger_partition(m) FROM (
  SELECT DISTINCT date_trunc('month', "settled_at", 'UTC') AS m FROM "usage_ledger_unpartitioned"
) months;--> statement-breakpoint
SELECT * FROM quotagate_ledger_partitions(2);--> statement-breakpoint
INSERT INTO "usage_ledger" ("id", "request_id", "user_id", "key_id", "model", "model_group_id", "cost_micros",
  "input_tokens", "output_tokens", "counted_in_user_global", "counted_in_key_global", "buckets", "status",
  "reserved_at", "settled_at", "metadata", "recorded_at")
SELECT "id", "request_id", "user_id", "key_id", "model", "model_group_id", "cost_micros",
  "input_tokens", "output_tokens", "counted_in_user_global", "counted_in_key_global", "buckets", "status",
  "reserved_at", "settled_at", "metadata", "settled_at"
FROM "usage_ledger_unpartitioned";--> statement-breakpoint
INSERT INTO "ledger_request_ids" ("request_id", "recorded_at")
SELECT "request_id", "settled_at" FROM "usage_ledger_unpartitioned";--> statement-breakpoint
-- Copied ids were drawn from this sequence already; this only guards ids written by hand.
SELECT setval('usage_ledger_id_seq', greatest((SELECT last_value FROM "usage_ledger_id_seq"), (SELECT max("id") FROM "usage_ledger_unpartitioned")));--> statement-breakpoint
DROP TABLE "usage_ledger_unpartitioned";--> statement-breakpoint
-- On the parent: every partition, present and future, gets them.
CREATE INDEX "usage_ledger_user_time_idx" ON "usage_ledger" USING btree ("user_id","settled_at");--> statement-breakpoint
CREATE INDEX "usage_ledger_key_time_idx" ON "usage_ledger" USING btree ("key_id","settled_at");--> statement-breakpoint
CREATE INDEX "usage_ledger_buckets_idx" ON "usage_ledger" USING gin ("buckets" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "usage_ledger_request_id_idx" ON "usage_ledger" USING btree ("request_id");
