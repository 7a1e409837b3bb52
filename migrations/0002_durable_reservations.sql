CREATE TABLE "apply_intents" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"subjects" jsonb NOT NULL,
	"due_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reservations" (
	"request_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"reserved_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"buckets" jsonb NOT NULL,
	"payload" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "apply_intents_due_idx" ON "apply_intents" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "reservations_buckets_idx" ON "reservations" USING gin ("buckets" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "reservations_user_idx" ON "reservations" USING btree ("user_id","reserved_at");