-- ledger_rollups' primary key carries the amounts (INCLUDE), so a rebuild's slice reads are
-- index-only scans: a busy bucket's rollup rows sit one per heap page (they were written
-- interleaved with every other bucket's), and fetching those pages made a heavy user's cold
-- decision 2-3x a light one's. drizzle-kit cannot express INCLUDE: this file is
-- hand-written; src/db/schema.ts declares the key columns.
--
-- Building the index locks the table (settles wait) about 1.6 s per million rollup rows.
-- On a large ledger, build it first without a lock:
--   CREATE UNIQUE INDEX CONCURRENTLY ledger_rollups_covering_key ON ledger_rollups
--     (bucket, level, slice_start) INCLUDE (requests, cost_micros, input_tokens, output_tokens);
-- and this migration only swaps the key onto it.
CREATE UNIQUE INDEX IF NOT EXISTS "ledger_rollups_covering_key" ON "ledger_rollups" ("bucket","level","slice_start") INCLUDE ("requests","cost_micros","input_tokens","output_tokens");--> statement-breakpoint
ALTER TABLE "ledger_rollups" DROP CONSTRAINT "ledger_rollups_bucket_level_slice_start_pk";--> statement-breakpoint
ALTER TABLE "ledger_rollups" ADD CONSTRAINT "ledger_rollups_bucket_level_slice_start_pk" PRIMARY KEY USING INDEX "ledger_rollups_covering_key";
