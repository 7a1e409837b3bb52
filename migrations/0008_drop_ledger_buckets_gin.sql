-- The GIN index on usage_ledger.buckets served no read: a rebuild finds a bucket's rows by
-- its owner's (user_id | key_id, settled_at) index and tests `buckets ? key` on them
-- (src/ledger/bucket-rows.ts), and the rollups answer everything older. Every settle still
-- paid for it (one entry per bucket of the row, and the pending list's merges). Dropping
-- it on the partitioned parent drops it on every partition; a brief lock, no rewrite.
DROP INDEX IF EXISTS "usage_ledger_buckets_idx";
