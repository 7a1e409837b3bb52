ALTER TABLE "limits" ADD COLUMN "mode" text DEFAULT 'enforce' NOT NULL;--> statement-breakpoint
ALTER TABLE "limits" ADD COLUMN "alert_at" jsonb;--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD COLUMN "input_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD COLUMN "output_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "limits" ADD CONSTRAINT "limits_mode" CHECK ("limits"."mode" in ('enforce', 'shadow'));--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_tokens_nonnegative" CHECK ("usage_ledger"."input_tokens" >= 0 and "usage_ledger"."output_tokens" >= 0);